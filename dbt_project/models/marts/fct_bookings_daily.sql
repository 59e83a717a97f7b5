{#
  Bookings by tenant, day, booking type and artist: the grain the label dashboard filters on
  (any date range, booking types, artists). Two date roles, as in METRICS.md:
  - money and completed bookings by service date (like fct_revenue_monthly and
    fct_artist_performance_monthly): recognized, pipeline, collected, outstanding revenue;
  - booking counts by local start date (like fct_bookings_monthly and kpi_summary): started
    (every non-DRAFT booking) and cancelled bookings.
  A row exists for every (day, type, artist) with at least one booking counted in either role.
  Per-booking amounts are already rounded to the cent (int_bookings_enriched); only sums here.
  Incremental by tenant (macros/tenant_changes.sql): a run recomputes only the tenants whose
  bookings, artists or organization changed since the last build; for the tenants whose changed
  bookings are known row by row (macros/booking_months.sql), only the months those bookings
  leave or enter. The pre-hook deletes what is recomputed; the rows are then appended.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ delete_tenants_recomputed_whole() }}", "{{ delete_changed_months('day') }}"],
) }}

-- depends_on: {{ ref('int_tenant_changes') }}
-- depends_on: {{ ref('int_booking_change_months') }}
-- depends_on: {{ ref('stg_operational__organizations') }}
{%- set by_row = row_scope() if is_incremental() else [] %}

with bookings as (

    -- for the tenants rewritten by month: every booking counted on a day of a changed month, by
    -- service date or by start date (the rows of other days are dropped below)
    select * from {{ changed_bookings(['service_month', 'start_month']) }}
    where is_counted

),

by_role as (

    -- each booking once per date role it is counted in: on its service date for money and
    -- completed bookings, on its local start date for started and cancelled bookings; one
    -- aggregation over both (a full outer join of two aggregations cost half as much again)
    select
        tenant_id, service_date as day, booking_type, artist_id, base_currency, value_base,
        is_recognized, is_pipeline, is_collected, is_outstanding,
        false as is_started, false as is_cancelled
    from bookings
    where (is_recognized or is_pipeline)
      and service_date is not null

    union all

    select
        tenant_id, start_local_date as day, booking_type, artist_id, base_currency, null as value_base,
        false, false, false, false,
        true as is_started, is_cancelled
    from bookings
    where start_local_date is not null

),

daily as (

    select
        tenant_id,
        day,
        booking_type,
        artist_id,
        base_currency,
        coalesce(sum(value_base) filter (where is_recognized), 0) as recognized_revenue,
        coalesce(sum(value_base) filter (where is_pipeline), 0) as pipeline_revenue,
        coalesce(sum(value_base) filter (where is_collected), 0) as collected_revenue,
        coalesce(sum(value_base) filter (where is_outstanding), 0) as outstanding_revenue,
        count(*) filter (where is_recognized) as completed_bookings,
        count(*) filter (where is_started) as started_bookings,
        count(*) filter (where is_started and is_cancelled) as cancelled_bookings
    from by_role
    group by tenant_id, day, booking_type, artist_id, base_currency

)

select
    cast(tenant_id as varchar) as tenant_id,
    cast(day as date) as day,
    cast(booking_type as varchar) as booking_type,
    cast(artist_id as varchar) as artist_id,
    cast(base_currency as varchar) as base_currency,
    cast(recognized_revenue as decimal(18, 2)) as recognized_revenue,
    cast(pipeline_revenue as decimal(18, 2)) as pipeline_revenue,
    cast(collected_revenue as decimal(18, 2)) as collected_revenue,
    cast(outstanding_revenue as decimal(18, 2)) as outstanding_revenue,
    cast(completed_bookings as bigint) as completed_bookings,
    cast(started_bookings as bigint) as started_bookings,
    cast(cancelled_bookings as bigint) as cancelled_bookings
from daily
{%- if by_row %}
where not {{ in_tenant_list('tenant_id', by_row) }}
   or {{ in_changed_month('daily.tenant_id', ["cast(date_trunc('month', daily.day) as date)"]) }}
{%- endif %}
-- stored in tenant order: a read of one tenant (a scoped build's pre-hook and tests, publishing)
-- skips the row groups of the others instead of scanning ~8M tenant ids
order by tenant_id
