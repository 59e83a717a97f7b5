-- Reported in Dagster as an asset check on fct_booking_status_funnel.
{{ config(meta={'dagster': {'ref': {'name': 'fct_booking_status_funnel'}}}) }}
-- All-time funnel counts without DRAFT equal the booking volume of fct_bookings_monthly, and
-- COMPLETED equals its completed bookings, per tenant.
with funnel as (

    select
        tenant_id,
        sum(bookings_all_time) filter (where status <> 'DRAFT') as counted,
        sum(bookings_all_time) filter (where status = 'COMPLETED') as completed
    from {{ scoped_ref('fct_booking_status_funnel') }}
    group by tenant_id

),

monthly as (

    select tenant_id, sum(total_bookings) as counted, sum(completed_bookings) as completed
    from {{ scoped_ref('fct_bookings_monthly') }}
    group by tenant_id

)

select funnel.tenant_id, funnel.counted, monthly.counted as monthly_counted
from funnel
left join monthly
    on monthly.tenant_id = funnel.tenant_id
where funnel.counted <> coalesce(monthly.counted, 0)
   or funnel.completed <> coalesce(monthly.completed, 0)
