{#
  What the incremental marts were last built from: per tenant, the fingerprint of its bookings,
  artists and organization (macros/tenant_changes.sql). Built after those marts (the depends_on
  lines below), so it advances only when they all succeeded; int_tenant_changes compares the
  next run's sources with it.
  Rewritten per tenant like the as-of marts (dbt_project.yml): in a build limited to some tenants
  (macros/tenant_scope.sql) only their rows, otherwise every row.
#}



-- depends_on: {{ ref('fct_revenue_monthly') }}
-- depends_on: {{ ref('fct_bookings_monthly') }}
-- depends_on: {{ ref('fct_artist_performance_monthly') }}
-- depends_on: {{ ref('fct_revenue_by_currency') }}
-- depends_on: {{ ref('dim_artists') }}

select
    *,
    cast('{{ run_started_at.isoformat() }}' as timestamptz) as recorded_at
from ({{ tenant_source_fingerprints() }}) as fingerprints
