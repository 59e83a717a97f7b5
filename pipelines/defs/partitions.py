"""Tenants as dynamic partitions (kept in sync with `organizations` by the tenant sensor)."""
import dagster as dg

tenant_partitions = dg.DynamicPartitionsDefinition(name="tenants")

# a run over many tenants is one run, not one run per tenant
single_run = dg.BackfillPolicy.single_run()

# only one run at a time writes the build database (see pipelines/dagster.yaml)
BUILD_DB_TAGS = {"auditoryx/build-db": "writer"}
