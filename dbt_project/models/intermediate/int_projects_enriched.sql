{#
  One row per project with budget and spend converted to the tenant's base currency at the
  as-of date D (each currency's latest rate on or before D), next to the original amounts and
  the FX used. Same exact-decimal conversion as bookings (macros/convert_to_base.sql).
  Rewritten per tenant like the as-of marts (dbt_project.yml): in a build limited to some tenants
  (macros/tenant_scope.sql) only their projects, otherwise all of them.
#}

with projects as (

    select * from {{ scoped_ref('stg_operational__projects') }}

),

organizations as (

    select tenant_id, base_currency
    from {{ scoped_ref('stg_operational__organizations') }}

),

fx_rates as (

    select rate_date, currency, usd_per_unit, units_per_usd
    from {{ ref('fx_rates') }}

),

with_base_currency as (

    select
        projects.*,
        organizations.base_currency,
        {{ as_of_date() }} as as_of
    from projects
    left join organizations
        on organizations.tenant_id = projects.tenant_id

),

with_project_currency_rate as (

    select
        with_base_currency.*,
        fx_rates.rate_date as project_currency_rate_date,
        fx_rates.usd_per_unit as project_currency_usd_per_unit
    from with_base_currency
    asof left join fx_rates
        on fx_rates.currency = with_base_currency.currency
        and fx_rates.rate_date <= with_base_currency.as_of

),

with_base_currency_rate as (

    select
        with_project_currency_rate.*,
        fx_rates.rate_date as base_currency_rate_date,
        fx_rates.units_per_usd as base_currency_units_per_usd
    from with_project_currency_rate
    asof left join fx_rates
        on fx_rates.currency = with_project_currency_rate.base_currency
        and fx_rates.rate_date <= with_project_currency_rate.as_of

),

converted as (

    select
        *,
        currency <> base_currency as needs_conversion,
        case
            when budget is null then null
            when currency = base_currency then budget
            else {{ convert_to_base('budget', 'project_currency_usd_per_unit', 'base_currency_units_per_usd') }}
        end as budget_base,
        case
            when spent is null then null
            when currency = base_currency then spent
            else {{ convert_to_base('spent', 'project_currency_usd_per_unit', 'base_currency_units_per_usd') }}
        end as spent_base
    from with_base_currency_rate

),

final as (

    select
        project_id,
        tenant_id,
        project_name,
        project_type,
        status,
        priority,
        start_date,
        end_date,
        deadline,
        as_of,
        currency,
        budget,
        spent,
        base_currency,
        needs_conversion,
        case when needs_conversion then project_currency_rate_date end as fx_rate_date,
        case when needs_conversion then project_currency_usd_per_unit end as fx_usd_per_unit,
        case when needs_conversion then base_currency_rate_date end as fx_base_rate_date,
        case when needs_conversion then base_currency_units_per_usd end as fx_base_units_per_usd,
        budget_base,
        spent_base
    from converted

)

select * from final
