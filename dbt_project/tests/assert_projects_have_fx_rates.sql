-- A project with a budget or spend in a currency other than its tenant's base currency must find
-- a rate on or before the as-of date for both currencies. Returns the projects that cannot be
-- converted.
select
    tenant_id,
    project_id,
    currency,
    base_currency,
    as_of
from {{ scoped_ref('int_projects_enriched') }}
where needs_conversion
  and (budget is not null or spent is not null)
  and (fx_usd_per_unit is null or fx_base_units_per_usd is null)
