{#
  One row per tenant (every organization, even without bookings) with the headline KPIs as of D.
  Windows: last 30 days = D-29..D, previous 30 days = D-59..D-30 (service dates for revenue,
  local start dates for bookings). Counts and sums are 0, never null.
#}

{% set as_of = as_of_date() %}

with organizations as (

    select tenant_id, base_currency
    from {{ scoped_ref('stg_operational__organizations') }}

),

bookings as (

    select * from {{ scoped_ref('int_bookings_enriched') }}

),

revenue as (

    select
        tenant_id,
        sum(value_base) filter (
            where is_recognized and service_date between {{ as_of }} - 29 and {{ as_of }}
        ) as recognized_revenue_30d,
        sum(value_base) filter (
            where is_recognized and service_date between {{ as_of }} - 59 and {{ as_of }} - 30
        ) as recognized_revenue_prev_30d,
        sum(value_base) filter (where is_outstanding) as outstanding_revenue
    from bookings
    group by tenant_id

),

activity as (

    select
        tenant_id,
        count(*) as bookings_30d,
        count(distinct artist_id) filter (where not is_cancelled) as active_artists_30d
    from bookings
    where is_counted
      and start_local_date between {{ as_of }} - 29 and {{ as_of }}
    group by tenant_id

),

projects as (

    select tenant_id, count(*) as active_projects
    from {{ scoped_ref('stg_operational__projects') }}
    where status = 'IN_PROGRESS'
    group by tenant_id

),

milestones as (

    select tenant_id, count(*) as overdue_milestones
    from {{ scoped_ref('stg_operational__project_milestones') }}
    where due_date < {{ as_of }}
      and status <> 'COMPLETED'
    group by tenant_id

),

summary as (

    select
        organizations.tenant_id,
        organizations.base_currency,
        coalesce(revenue.recognized_revenue_30d, 0) as recognized_revenue_30d,
        coalesce(revenue.recognized_revenue_prev_30d, 0) as recognized_revenue_prev_30d,
        coalesce(activity.bookings_30d, 0) as bookings_30d,
        coalesce(activity.active_artists_30d, 0) as active_artists_30d,
        coalesce(projects.active_projects, 0) as active_projects,
        coalesce(milestones.overdue_milestones, 0) as overdue_milestones,
        coalesce(revenue.outstanding_revenue, 0) as outstanding_revenue
    from organizations
    left join revenue on revenue.tenant_id = organizations.tenant_id
    left join activity on activity.tenant_id = organizations.tenant_id
    left join projects on projects.tenant_id = organizations.tenant_id
    left join milestones on milestones.tenant_id = organizations.tenant_id

)

select
    cast(tenant_id as varchar) as tenant_id,
    cast({{ as_of }} as date) as as_of,
    cast(base_currency as varchar) as base_currency,
    cast(recognized_revenue_30d as decimal(18, 2)) as recognized_revenue_30d,
    cast(recognized_revenue_prev_30d as decimal(18, 2)) as recognized_revenue_prev_30d,
    case
        when recognized_revenue_prev_30d = 0 then null
        else cast(recognized_revenue_30d - recognized_revenue_prev_30d as double)
            / cast(recognized_revenue_prev_30d as double)
    end as revenue_delta_pct,
    cast(bookings_30d as bigint) as bookings_30d,
    cast(active_artists_30d as bigint) as active_artists_30d,
    cast(active_projects as bigint) as active_projects,
    cast(overdue_milestones as bigint) as overdue_milestones,
    cast(outstanding_revenue as decimal(18, 2)) as outstanding_revenue
from summary
