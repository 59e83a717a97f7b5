-- Reported in Dagster as an asset check on fct_artist_performance_monthly.
{{ config(meta={'dagster': {'ref': {'name': 'fct_artist_performance_monthly'}}}) }}
-- The revenue marts are different cuts of the same bookings: per tenant, recognized revenue and
-- completed bookings of fct_revenue_monthly and fct_artist_performance_monthly are equal.
with by_type as (

    select tenant_id, sum(recognized_revenue) as revenue, sum(completed_bookings) as completed
    from {{ scoped_ref('fct_revenue_monthly') }}
    group by tenant_id

),

by_artist as (

    select tenant_id, sum(recognized_revenue) as revenue, sum(completed_bookings) as completed
    from {{ scoped_ref('fct_artist_performance_monthly') }}
    group by tenant_id

)

select
    coalesce(by_type.tenant_id, by_artist.tenant_id) as tenant_id,
    by_type.revenue as revenue_by_type,
    by_artist.revenue as revenue_by_artist,
    by_type.completed as completed_by_type,
    by_artist.completed as completed_by_artist
from by_type
full outer join by_artist
    on by_artist.tenant_id = by_type.tenant_id
where by_type.revenue is distinct from by_artist.revenue
   or by_type.completed is distinct from by_artist.completed
