{#
  Recognized revenue (COMPLETED bookings) by tenant, month of service date and the bookings'
  original currency: the sum in that currency and the sum of the per-booking converted amounts
  in the tenant's base currency (each booking rounded to the cent before summing).
  Incremental by tenant (config in dbt_project.yml, macros/tenant_changes.sql): a run recomputes only the tenants whose
  bookings, artists or organization changed since the last build, and, for tenants whose changed bookings are
  known row by row, only the months those bookings leave or enter (macros/booking_months.sql).
#}

-- depends_on: {{ ref('int_tenant_changes') }}
-- depends_on: {{ ref('int_booking_change_months') }}
-- depends_on: {{ ref('stg_operational__organizations') }}

with recognized as (

    select * from {{ changed_bookings(['service_month']) }}
    where is_recognized

),

monthly as (

    select
        tenant_id,
        service_month as month,
        currency,
        base_currency,
        coalesce(sum(value), 0) as recognized_revenue_original,
        coalesce(sum(value_base), 0) as recognized_revenue,
        count(*) as completed_bookings
    from recognized
    group by tenant_id, service_month, currency, base_currency

)

select
    cast(tenant_id as varchar) as tenant_id,
    cast(month as date) as month,
    cast(currency as varchar) as currency,
    cast(base_currency as varchar) as base_currency,
    cast(recognized_revenue_original as decimal(18, 2)) as recognized_revenue_original,
    cast(recognized_revenue as decimal(18, 2)) as recognized_revenue,
    cast(completed_bookings as bigint) as completed_bookings
from monthly
