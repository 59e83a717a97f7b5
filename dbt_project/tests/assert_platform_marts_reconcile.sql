-- Reported in Dagster as an asset check on platform_tenant_summary.
{{ config(meta={'dagster': {'ref': {'name': 'platform_tenant_summary'}}}) }}
-- Operator marts: each tenant's base-currency revenue equals its fct_revenue_monthly total, and
-- platform_overview adds up to platform_tenant_summary.
with by_tenant as (

    select tenant_id, sum(recognized_revenue) as revenue, sum(completed_bookings) as completed
    from {{ ref('fct_revenue_monthly') }}
    group by tenant_id

),

tenant_mismatches as (

    select summary.tenant_id, 'tenant revenue' as check_name
    from {{ ref('platform_tenant_summary') }} as summary
    left join by_tenant
        on by_tenant.tenant_id = summary.tenant_id
    where summary.recognized_revenue <> coalesce(by_tenant.revenue, 0)
       or summary.completed_bookings <> coalesce(by_tenant.completed, 0)

),

overview_mismatches as (

    select null as tenant_id, 'overview totals' as check_name
    from (
        select count(*) as tenants, coalesce(sum(total_bookings), 0) as bookings,
               coalesce(sum(recognized_revenue_usd), 0) as revenue_usd
        from {{ ref('platform_tenant_summary') }}
    ) as summary
    cross join (
        select coalesce(sum(tenants), 0) as tenants, coalesce(sum(total_bookings), 0) as bookings,
               coalesce(sum(recognized_revenue_usd), 0) as revenue_usd
        from {{ ref('platform_overview') }}
    ) as overview
    where summary.tenants is distinct from overview.tenants
       or summary.bookings is distinct from overview.bookings
       or summary.revenue_usd is distinct from overview.revenue_usd

)

select * from tenant_mismatches
union all
select * from overview_mismatches
