{#
  The bookings a build limited to some tenants looks at row by row (macros/tenant_scope.sql
  row_scope(): extraction recorded every booking that changed for these tenants since the last
  successful build, in main.dbt_pending_rows), with the months they were loaded in before this
  build: int_bookings_enriched, read by name (this model runs before it). Marts that are
  rewritten by month for these tenants (fct_bookings_daily) rewrite the months a changed booking
  leaves (here) and the ones it enters (its new row in int_bookings_enriched):
  macros/booking_months.sql.
  Empty in any other build.
#}

{{ config(materialized='table') }}

-- depends_on: {{ ref('stg_operational__bookings') }}

{%- set by_row = row_scope() %}
{%- set loaded = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_bookings_enriched') %}

{% if by_row and loaded is not none %}

with changed as (

    select distinct tenant_id, id as booking_id
    from main.dbt_pending_rows  -- the build database's own bookkeeping, not a dbt relation
    where table_name = 'bookings' and {{ in_tenant_list('tenant_id', by_row) }}

)

select
    changed.tenant_id,
    changed.booking_id,
    before.service_month as old_service_month,
    before.start_month as old_start_month
from changed
left join (select * from {{ loaded }} where {{ in_tenant_list('tenant_id', by_row) }}) as before
    on before.tenant_id = changed.tenant_id
    and before.booking_id = changed.booking_id

{% else %}

select
    cast(null as varchar) as tenant_id,
    cast(null as varchar) as booking_id,
    cast(null as date) as old_service_month,
    cast(null as date) as old_start_month
where false

{% endif %}
