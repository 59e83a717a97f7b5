{#
  The artist roster of each tenant (every artist, booked or not) with lifetime delivery
  metrics from COMPLETED bookings (all service dates, like the monthly marts): bookings,
  recognized revenue in the tenant's base currency, hours delivered, first and last service date.
  Incremental by tenant (config in dbt_project.yml, macros/tenant_changes.sql): a run recomputes only the tenants whose
  bookings, artists or organization changed since the last build.
#}

-- depends_on: {{ ref('int_tenant_changes') }}
-- depends_on: {{ ref('stg_operational__organizations') }}

with artists as (

    select * from {{ ref('stg_operational__artists') }}
    where {{ only_changed_tenants() }}

),

organizations as (

    select tenant_id, base_currency
    from {{ ref('stg_operational__organizations') }}

),

lifetime as (

    select
        tenant_id,
        artist_id,
        count(*) as completed_bookings,
        coalesce(sum(value_base), 0) as recognized_revenue,
        coalesce(sum(duration_minutes), 0) as minutes_delivered,
        min(service_date) as first_service_date,
        max(service_date) as last_service_date
    from {{ ref('int_bookings_enriched') }}
    where is_recognized
      and {{ only_changed_tenants() }}
    group by tenant_id, artist_id

)

select
    cast(artists.tenant_id as varchar) as tenant_id,
    cast(artists.artist_id as varchar) as artist_id,
    cast(artists.artist_name as varchar) as artist_name,
    cast(artists.stage_name as varchar) as stage_name,
    cast(try_cast(artists.genres as varchar[]) as varchar[]) as genres,
    cast(artists.verification_status as varchar) as verification_status,
    cast(artists.rating as decimal(3, 2)) as rating,
    cast(artists.is_active as boolean) as is_active,
    cast(organizations.base_currency as varchar) as base_currency,
    cast(coalesce(lifetime.completed_bookings, 0) as bigint) as completed_bookings,
    cast(coalesce(lifetime.recognized_revenue, 0) as decimal(18, 2)) as recognized_revenue,
    cast(coalesce(lifetime.minutes_delivered, 0) as double) / 60 as hours_delivered,
    cast(lifetime.first_service_date as date) as first_service_date,
    cast(lifetime.last_service_date as date) as last_service_date
from artists
left join organizations
    on organizations.tenant_id = artists.tenant_id
left join lifetime
    on lifetime.tenant_id = artists.tenant_id
    and lifetime.artist_id = artists.artist_id
