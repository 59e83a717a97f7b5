-- usd_per_unit and units_per_usd of a row must be each other's inverse (up to their 8-decimal
-- rounding): catches swapped columns or a wrong row in a user-supplied rates file.
-- Exact decimal product, no division.
select rate_date, currency, usd_per_unit, units_per_usd
from {{ ref('fx_rates') }}
where abs(
    cast(usd_per_unit as decimal(38, 8)) * cast(units_per_usd as decimal(38, 8)) - 1
) > 0.001
