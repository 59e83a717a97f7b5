{#
  The (tenant, month) pairs the marts rewritten by month (macros/booking_months.sql) rewrite for
  the tenants whose changed bookings are known row by row: the service and start months the
  changed bookings leave (int_booking_changes, taken before int_bookings_enriched was rebuilt)
  and enter (their rows in int_bookings_enriched now). Empty in any other build.
#}

{{ config(materialized='table') }}

{%- set by_row = row_scope() %}

{% if by_row %}

select tenant_id, old_service_month as month
from {{ ref('int_booking_changes') }}
where old_service_month is not null

union

select tenant_id, old_start_month
from {{ ref('int_booking_changes') }}
where old_start_month is not null

union

select tenant_id, month from (
    select enriched.tenant_id, unnest([enriched.service_month, enriched.start_month]) as month
    from {{ ref('int_bookings_enriched') }} as enriched
    semi join {{ ref('int_booking_changes') }} as changes
        on changes.tenant_id = enriched.tenant_id
        and changes.booking_id = enriched.booking_id
    where {{ in_tenant_list('enriched.tenant_id', by_row) }}
) as entered
where month is not null

{% else %}

-- depends_on: {{ ref('int_booking_changes') }}
-- depends_on: {{ ref('int_bookings_enriched') }}
select cast(null as varchar) as tenant_id, cast(null as date) as month
where false

{% endif %}
