"""Jobs over the whole asset graph, targeting tenant partitions: publishing runs per partition,
extraction and the dbt build once per run over the run's tenants (pipelines/run_scope.py).

The refresh jobs run their steps in the run's own process (``in_process_executor``). Dagster's
default executor starts a Python process per step, each importing Dagster, the project and dbt
again (2-18 s a step on this machine, for steps of ~1 s); the steps of a refresh run one after
another anyway (one writer of the build database), so separate processes buy nothing."""
import dagster as dg

from pipelines.defs.checks import file_drops_reconcile, published_snapshots, tenant_build_passed
from pipelines.defs.partitions import BUILD_DB_TAGS, tenant_partitions

# the refresh: everything but the report exports (they have their own job and schedule)
ALL_ASSETS = dg.AssetSelection.all() - dg.AssetSelection.groups("reports")

refresh_tenants = dg.define_asset_job(
    "refresh_tenants", selection=ALL_ASSETS, partitions_def=tenant_partitions, tags=BUILD_DB_TAGS,
    executor_def=dg.in_process_executor,
    description="Extract (incremental) → dbt build → publish for the run's tenants.",
)

# a run started by a change (a booking, a file drop): the same assets and the platform's own checks,
# not one check per dbt test. The data tests still run in the build, and a tenant whose rows fail one
# keeps its last version: `tenant_build_passed` fails on its partition, naming the tests. Each dbt test
# check costs Dagster two events and every check of the job a planned event at run creation (~350
# events, ~0.9 s of a one-booking run that publishes in ~3 s); the schedules' runs report them all.
OWN_CHECKS = dg.AssetSelection.checks(published_snapshots, tenant_build_passed, file_drops_reconcile)
refresh_changed_tenants = dg.define_asset_job(
    "refresh_changed_tenants", selection=ALL_ASSETS.without_checks() | OWN_CHECKS,
    partitions_def=tenant_partitions, tags=BUILD_DB_TAGS, executor_def=dg.in_process_executor,
    description="Extract (incremental) → dbt build → publish for tenants whose data changed; the data "
                "tests' outcome is reported per tenant (tenant_build_passed), not per test.",
)

reconcile_tenants = dg.define_asset_job(
    "reconcile_tenants", selection=ALL_ASSETS, partitions_def=tenant_partitions, tags=BUILD_DB_TAGS,
    executor_def=dg.in_process_executor,
    config={"ops": {"operational_raw": {"config": {"mode": "full"}}}},
    description="Key reconciliation: tenants re-read whole, so rows deleted in the source leave.",
)


def all_tenants_run_request(instance: dg.DagsterInstance, run_key: str | None = None) -> dg.RunRequest | None:
    """One run over every tenant partition (a single-run backfill of the whole range)."""
    keys = instance.get_dynamic_partitions(tenant_partitions.name)
    if not keys:
        return None
    return dg.RunRequest(run_key=run_key, tags={"dagster/asset_partition_range_start": keys[0],
                                                "dagster/asset_partition_range_end": keys[-1]})
