-- Reported in Dagster as an asset check on fct_bookings_daily.
{{ config(meta={'dagster': {'ref': {'name': 'fct_bookings_daily'}}}) }}
-- fct_bookings_daily is a finer cut of the monthly marts: per tenant and month, its sums equal
-- fct_revenue_monthly (money and completed bookings by service month and booking type),
-- fct_artist_performance_monthly (recognized revenue and completed bookings by artist) and
-- fct_bookings_monthly (started and cancelled bookings by start month); and its last 30 days
-- (D-29..D) and all-time outstanding equal kpi_summary. Any row returned is a difference; exact
-- DECIMAL comparison, to the cent.
{% set as_of = as_of_date() %}
with daily_by_type as (

    select
        tenant_id, cast(date_trunc('month', day) as date) as month, booking_type,
        sum(recognized_revenue) as recognized, sum(pipeline_revenue) as pipeline,
        sum(collected_revenue) as collected, sum(outstanding_revenue) as outstanding,
        sum(completed_bookings) as completed
    from {{ scoped_ref('fct_bookings_daily') }}
    group by all
    having sum(recognized_revenue) <> 0 or sum(pipeline_revenue) <> 0 or sum(completed_bookings) <> 0

),

monthly_by_type as (

    select
        tenant_id, month, booking_type,
        sum(recognized_revenue) as recognized, sum(pipeline_revenue) as pipeline,
        sum(collected_revenue) as collected, sum(outstanding_revenue) as outstanding,
        sum(completed_bookings) as completed
    from {{ scoped_ref('fct_revenue_monthly') }}
    group by all
    having sum(recognized_revenue) <> 0 or sum(pipeline_revenue) <> 0 or sum(completed_bookings) <> 0

),

daily_by_artist as (

    select
        tenant_id, cast(date_trunc('month', day) as date) as month, artist_id,
        sum(recognized_revenue) as recognized, sum(completed_bookings) as completed
    from {{ scoped_ref('fct_bookings_daily') }}
    group by all
    having sum(completed_bookings) > 0

),

monthly_by_artist as (

    select tenant_id, month, artist_id, recognized_revenue as recognized, completed_bookings as completed
    from {{ scoped_ref('fct_artist_performance_monthly') }}

),

daily_started as (

    select
        tenant_id, cast(date_trunc('month', day) as date) as month,
        sum(started_bookings) as started, sum(cancelled_bookings) as cancelled
    from {{ scoped_ref('fct_bookings_daily') }}
    group by all
    having sum(started_bookings) > 0

),

monthly_started as (

    select tenant_id, month, total_bookings as started, cancelled_bookings as cancelled
    from {{ scoped_ref('fct_bookings_monthly') }}

),

daily_kpis as (

    select
        tenant_id,
        coalesce(sum(recognized_revenue) filter (where day between {{ as_of }} - 29 and {{ as_of }}), 0)
            as recognized_revenue_30d,
        coalesce(sum(recognized_revenue) filter (where day between {{ as_of }} - 59 and {{ as_of }} - 30), 0)
            as recognized_revenue_prev_30d,
        coalesce(sum(started_bookings) filter (where day between {{ as_of }} - 29 and {{ as_of }}), 0)
            as bookings_30d,
        count(distinct artist_id) filter (
            where day between {{ as_of }} - 29 and {{ as_of }} and started_bookings > cancelled_bookings
        ) as active_artists_30d,
        coalesce(sum(outstanding_revenue), 0) as outstanding_revenue
    from {{ scoped_ref('fct_bookings_daily') }}
    group by tenant_id

),

summary_kpis as (

    select tenant_id, recognized_revenue_30d, recognized_revenue_prev_30d, bookings_30d, active_artists_30d,
           outstanding_revenue
    from {{ scoped_ref('kpi_summary') }}
    where tenant_id in (select tenant_id from {{ scoped_ref('fct_bookings_daily') }})

)

select 'by type' as cut, coalesce(d.tenant_id, m.tenant_id) as tenant_id, coalesce(d.month, m.month) as month,
       coalesce(d.booking_type, m.booking_type) as part
from daily_by_type as d
full outer join monthly_by_type as m using (tenant_id, month, booking_type)
where d.recognized is distinct from m.recognized or d.pipeline is distinct from m.pipeline
   or d.collected is distinct from m.collected or d.outstanding is distinct from m.outstanding
   or d.completed is distinct from m.completed

union all

select 'by artist', coalesce(d.tenant_id, m.tenant_id), coalesce(d.month, m.month), coalesce(d.artist_id, m.artist_id)
from daily_by_artist as d
full outer join monthly_by_artist as m using (tenant_id, month, artist_id)
where d.recognized is distinct from m.recognized or d.completed is distinct from m.completed

union all

select 'started', coalesce(d.tenant_id, m.tenant_id), coalesce(d.month, m.month), null
from daily_started as d
full outer join monthly_started as m using (tenant_id, month)
where d.started is distinct from m.started or d.cancelled is distinct from m.cancelled

union all

select 'kpi_summary', coalesce(d.tenant_id, k.tenant_id), null, null
from daily_kpis as d
full outer join summary_kpis as k using (tenant_id)
where d.recognized_revenue_30d is distinct from k.recognized_revenue_30d
   or d.recognized_revenue_prev_30d is distinct from k.recognized_revenue_prev_30d
   or d.bookings_30d is distinct from k.bookings_30d
   or d.active_artists_30d is distinct from k.active_artists_30d
   or d.outstanding_revenue is distinct from k.outstanding_revenue
