-- Reported in Dagster as an asset check on dim_artists.
{{ config(meta={'dagster': {'ref': {'name': 'dim_artists'}}}) }}
-- Lifetime metrics of dim_artists equal the sums of fct_artist_performance_monthly per artist.
with monthly as (

    select
        tenant_id,
        artist_id,
        sum(completed_bookings) as completed,
        sum(recognized_revenue) as revenue,
        min(month) as first_month,
        max(month) as last_month
    from {{ scoped_ref('fct_artist_performance_monthly') }}
    group by tenant_id, artist_id

)

-- tenant_id from either side: the failing rows are pinned on their tenant (warehouse/dbt_runner.py)
select coalesce(dim.tenant_id, monthly.tenant_id) as tenant_id, coalesce(dim.artist_id, monthly.artist_id) as artist_id,
       dim.completed_bookings, monthly.completed
from {{ scoped_ref('dim_artists') }} as dim
full outer join monthly
    on monthly.tenant_id = dim.tenant_id
    and monthly.artist_id = dim.artist_id
where coalesce(monthly.completed, 0) <> dim.completed_bookings
   or coalesce(monthly.revenue, 0) <> dim.recognized_revenue
   or date_trunc('month', dim.first_service_date) is distinct from monthly.first_month
   or date_trunc('month', dim.last_service_date) is distinct from monthly.last_month
   or dim.artist_id is null
