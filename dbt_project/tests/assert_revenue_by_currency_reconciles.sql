-- Reported in Dagster as an asset check on fct_revenue_by_currency.
{{ config(meta={'dagster': {'ref': {'name': 'fct_revenue_by_currency'}}}) }}
-- Per tenant and month, recognized revenue and completed bookings split by currency add up to
-- fct_revenue_monthly (split by booking type).
with by_currency as (

    select tenant_id, month, sum(recognized_revenue) as revenue, sum(completed_bookings) as completed
    from {{ scoped_ref('fct_revenue_by_currency') }}
    group by tenant_id, month

),

by_type as (

    select tenant_id, month, sum(recognized_revenue) as revenue, sum(completed_bookings) as completed
    from {{ scoped_ref('fct_revenue_monthly') }}
    group by tenant_id, month
    having sum(completed_bookings) > 0

)

select
    coalesce(by_currency.tenant_id, by_type.tenant_id) as tenant_id,
    coalesce(by_currency.month, by_type.month) as month,
    by_currency.revenue as revenue_by_currency,
    by_type.revenue as revenue_by_type
from by_currency
full outer join by_type
    on by_type.tenant_id = by_currency.tenant_id
    and by_type.month = by_currency.month
where by_currency.revenue is distinct from by_type.revenue
   or by_currency.completed is distinct from by_type.completed
