{#
  OPERATOR ONLY (cross-tenant; published to the platform folder, never to a tenant).
  Tenants, bookings and recognized revenue in USD by plan and organization type, from
  platform_tenant_summary. One row per (plan, organization_type) that has at least one tenant.
#}

select
    cast(plan as varchar) as plan,
    cast(organization_type as varchar) as organization_type,
    cast(count(*) as bigint) as tenants,
    cast(count(*) filter (where is_active) as bigint) as active_tenants,
    cast(sum(total_bookings) as bigint) as total_bookings,
    cast(sum(completed_bookings) as bigint) as completed_bookings,
    cast(sum(recognized_revenue_usd) as decimal(18, 2)) as recognized_revenue_usd
from {{ ref('platform_tenant_summary') }}
group by plan, organization_type
