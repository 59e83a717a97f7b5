{#
  OPERATOR ONLY (cross-tenant; published to the platform folder, never to a tenant).
  One row per tenant: identity, plan, base currency, booking volume and recognized revenue in
  USD (each booking converted with its currency's usd_per_unit on its FX date and rounded to
  the cent before summing) and in the tenant's base currency. Not as-of dependent: all bookings.
#}

with organizations as (

    select * from {{ scoped_ref('stg_operational__organizations') }}

),

bookings as (

    select
        tenant_id,
        count(*) filter (where is_counted) as total_bookings,
        count(*) filter (where is_recognized) as completed_bookings,
        coalesce(sum(value_usd) filter (where is_recognized), 0) as recognized_revenue_usd,
        coalesce(sum(value_base) filter (where is_recognized), 0) as recognized_revenue
    from {{ scoped_ref('int_bookings_enriched') }}
    group by tenant_id

)

select
    cast(organizations.tenant_id as varchar) as tenant_id,
    cast(organizations.slug as varchar) as slug,
    cast(organizations.organization_name as varchar) as organization_name,
    cast(organizations.organization_type as varchar) as organization_type,
    cast(organizations.plan as varchar) as plan,
    cast(coalesce(organizations.is_active, false) as boolean) as is_active,
    cast(organizations.base_currency as varchar) as base_currency,
    cast(coalesce(bookings.total_bookings, 0) as bigint) as total_bookings,
    cast(coalesce(bookings.completed_bookings, 0) as bigint) as completed_bookings,
    cast(coalesce(bookings.recognized_revenue_usd, 0) as decimal(18, 2)) as recognized_revenue_usd,
    cast(coalesce(bookings.recognized_revenue, 0) as decimal(18, 2)) as recognized_revenue
from organizations
left join bookings
    on bookings.tenant_id = organizations.tenant_id
