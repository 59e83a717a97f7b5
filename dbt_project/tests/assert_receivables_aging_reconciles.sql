-- Reported in Dagster as an asset check on fct_receivables_aging.
{{ config(meta={'dagster': {'ref': {'name': 'fct_receivables_aging'}}}) }}
-- The aging buckets of a tenant add up to its all-time outstanding revenue in kpi_summary.
with aging as (

    select tenant_id, sum(outstanding_revenue) as outstanding_revenue
    from {{ scoped_ref('fct_receivables_aging') }}
    group by tenant_id

)

select coalesce(kpi.tenant_id, aging.tenant_id) as tenant_id, kpi.outstanding_revenue as kpi_outstanding, aging.outstanding_revenue as aging_outstanding
from {{ scoped_ref('kpi_summary') }} as kpi
full outer join aging
    on aging.tenant_id = kpi.tenant_id
where kpi.outstanding_revenue is distinct from aging.outstanding_revenue
