{#
  Revenue by tenant, month of service date and booking type, in the tenant's base currency.
  Bookings that are recognized (COMPLETED) or pipeline (APPROVED, CONFIRMED, IN_PROGRESS) make
  the rows; collected and outstanding are subsets of recognized.
  Incremental by tenant (config in dbt_project.yml, macros/tenant_changes.sql): a run recomputes only the tenants whose
  bookings, artists or organization changed since the last build, and, for tenants whose changed bookings are
  known row by row, only the months those bookings leave or enter (macros/booking_months.sql).
#}

-- depends_on: {{ ref('int_tenant_changes') }}
-- depends_on: {{ ref('int_booking_change_months') }}
-- depends_on: {{ ref('stg_operational__organizations') }}

with bookings as (

    select * from {{ changed_bookings(['service_month']) }}
    where (is_recognized or is_pipeline)

),

monthly as (

    select
        tenant_id,
        service_month as month,
        booking_type,
        base_currency,
        coalesce(sum(value_base) filter (where is_recognized), 0) as recognized_revenue,
        coalesce(sum(value_base) filter (where is_pipeline), 0) as pipeline_revenue,
        coalesce(sum(value_base) filter (where is_collected), 0) as collected_revenue,
        coalesce(sum(value_base) filter (where is_outstanding), 0) as outstanding_revenue,
        count(*) filter (where is_recognized) as completed_bookings
    from bookings
    group by tenant_id, service_month, booking_type, base_currency

)

select
    cast(tenant_id as varchar) as tenant_id,
    cast(month as date) as month,
    cast(booking_type as varchar) as booking_type,
    cast(base_currency as varchar) as base_currency,
    cast(recognized_revenue as decimal(18, 2)) as recognized_revenue,
    cast(pipeline_revenue as decimal(18, 2)) as pipeline_revenue,
    cast(collected_revenue as decimal(18, 2)) as collected_revenue,
    cast(outstanding_revenue as decimal(18, 2)) as outstanding_revenue,
    cast(completed_bookings as bigint) as completed_bookings
from monthly
