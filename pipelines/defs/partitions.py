"""Tenants as dynamic partitions (kept in sync with `organizations` by the tenant sensor).

Only what keeps per-tenant state is partitioned: each tenant's published version
(`tenant_snapshots`), its per-tenant check `tenant_build_passed` and its report exports.
Extraction and the dbt build are one unpartitioned step per run over the run's tenants
(pipelines/run_scope.py): one materialization per asset, not one per tenant.
"""
import dagster as dg

tenant_partitions = dg.DynamicPartitionsDefinition(name="tenants")

# a run over many tenants is one run, not one run per tenant
single_run = dg.BackfillPolicy.single_run()

# only one run at a time writes the build database (see pipelines/dagster.yaml)
BUILD_DB_TAGS = {"auditoryx/build-db": "writer"}
