{#
  Delivered work by tenant, artist and month of service date: COMPLETED bookings only.
  Incremental by tenant (config in dbt_project.yml, macros/tenant_changes.sql): a run recomputes only the tenants whose
  bookings, artists or organization changed since the last build, and, for tenants whose changed bookings are
  known row by row, only the months those bookings leave or enter (macros/booking_months.sql).
#}

-- depends_on: {{ ref('int_tenant_changes') }}
-- depends_on: {{ ref('int_booking_change_months') }}
-- depends_on: {{ ref('stg_operational__organizations') }}

with completed as (

    select * from {{ changed_bookings(['service_month']) }}
    where is_recognized

),

monthly as (

    select
        tenant_id,
        artist_id,
        service_month as month,
        base_currency,
        count(*) as completed_bookings,
        coalesce(sum(value_base), 0) as recognized_revenue,
        coalesce(sum(duration_minutes), 0) as minutes_delivered
    from completed
    group by tenant_id, artist_id, service_month, base_currency

)

select
    cast(tenant_id as varchar) as tenant_id,
    cast(artist_id as varchar) as artist_id,
    cast(month as date) as month,
    cast(base_currency as varchar) as base_currency,
    cast(completed_bookings as bigint) as completed_bookings,
    cast(recognized_revenue as decimal(18, 2)) as recognized_revenue,
    cast(minutes_delivered as double) / 60 as hours_delivered
from monthly
