{#
  Booking volume by tenant and month of the local start date. DRAFT bookings are never counted.
  Incremental by tenant (config in dbt_project.yml, macros/tenant_changes.sql): a run recomputes only the tenants whose
  bookings, artists or organization changed since the last build, and, for tenants whose changed bookings are
  known row by row, only the months those bookings leave or enter (macros/booking_months.sql).
#}

-- depends_on: {{ ref('int_tenant_changes') }}
-- depends_on: {{ ref('int_booking_change_months') }}
-- depends_on: {{ ref('stg_operational__organizations') }}

with bookings as (

    select * from {{ changed_bookings(['start_month']) }}
    where is_counted

),

monthly as (

    select
        tenant_id,
        start_month as month,
        count(*) as total_bookings,
        count(*) filter (where is_recognized) as completed_bookings,
        count(*) filter (where is_cancelled) as cancelled_bookings
    from bookings
    group by tenant_id, start_month

)

select
    cast(tenant_id as varchar) as tenant_id,
    cast(month as date) as month,
    cast(total_bookings as bigint) as total_bookings,
    cast(completed_bookings as bigint) as completed_bookings,
    cast(cancelled_bookings as bigint) as cancelled_bookings,
    cast(cancelled_bookings as double) / nullif(total_bookings, 0) as cancellation_rate
from monthly
