-- Every FX rate is strictly positive (a zero rate would silently zero revenue).
select rate_date, currency, usd_per_unit, units_per_usd
from {{ ref('fx_rates') }}
where usd_per_unit <= 0 or units_per_usd <= 0
