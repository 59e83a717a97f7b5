{#
  One row per booking with its value, local dates, FX conversion to the tenant's base currency
  and revenue-class flags (METRICS.md, "Per booking").
#}

with bookings as (

    select * from {{ ref('stg_operational__bookings') }}

),

organizations as (

    select tenant_id, base_currency
    from {{ ref('stg_operational__organizations') }}

),

fx_rates as (

    select rate_date, currency, usd_per_unit, units_per_usd
    from {{ ref('fx_rates') }}

),

localized as (

    select
        bookings.*,
        organizations.base_currency,
        coalesce(bookings.final_price, bookings.budget) as value,
        cast(timezone(bookings.timezone, bookings.start_at) as date) as start_local_date,
        cast(timezone(bookings.timezone, bookings.end_at) as date) as service_date
    from bookings
    left join organizations
        on organizations.tenant_id = bookings.tenant_id

),

-- latest rate on or before the service date, for the booking's currency ...
with_booking_currency_rate as (

    select
        localized.*,
        fx_rates.rate_date as booking_currency_rate_date,
        fx_rates.usd_per_unit as booking_currency_usd_per_unit
    from localized
    asof left join fx_rates
        on fx_rates.currency = localized.currency
        and fx_rates.rate_date <= localized.service_date

),

-- ... and, independently (each currency its own latest date), for the base currency
with_base_currency_rate as (

    select
        with_booking_currency_rate.*,
        fx_rates.rate_date as base_currency_rate_date,
        fx_rates.units_per_usd as base_currency_units_per_usd
    from with_booking_currency_rate
    asof left join fx_rates
        on fx_rates.currency = with_booking_currency_rate.base_currency
        and fx_rates.rate_date <= with_booking_currency_rate.service_date

),

converted as (

    select
        *,
        currency <> base_currency as needs_conversion,
        case
            when value is null then null
            when currency = base_currency then value
            else {{ convert_to_base('value', 'booking_currency_usd_per_unit', 'base_currency_units_per_usd') }}
        end as value_base
    from with_base_currency_rate

),

final as (

    select
        booking_id,
        tenant_id,
        artist_id,
        project_id,
        booking_type,
        status,
        payment_status,
        timezone,
        start_at,
        end_at,
        start_local_date,
        service_date,
        cast(date_trunc('month', start_local_date) as date) as start_month,
        cast(date_trunc('month', service_date) as date) as service_month,
        duration_minutes,

        -- money: original amount, then base-currency amount with the FX used
        currency,
        value,
        base_currency,
        needs_conversion,
        case when needs_conversion then booking_currency_rate_date end as fx_rate_date,
        case when needs_conversion then booking_currency_usd_per_unit end as fx_usd_per_unit,
        case when needs_conversion then base_currency_rate_date end as fx_base_rate_date,
        case when needs_conversion then base_currency_units_per_usd end as fx_base_units_per_usd,
        value_base,

        -- revenue classes and counting flags
        coalesce(status <> 'DRAFT', false) as is_counted,
        coalesce(status = 'CANCELLED', false) as is_cancelled,
        coalesce(status = 'COMPLETED', false) as is_recognized,
        coalesce(status in ('APPROVED', 'CONFIRMED', 'IN_PROGRESS'), false) as is_pipeline,
        coalesce(status = 'COMPLETED' and payment_status = 'PAID', false) as is_collected,
        coalesce(status = 'COMPLETED' and payment_status in ('PENDING', 'PARTIAL'), false)
            as is_outstanding
    from converted

)

select * from final
