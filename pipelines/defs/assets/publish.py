"""Publishing each refreshed tenant's marts as a new snapshot version (CURRENT flipped atomically)."""
import dagster as dg

from auditoryx import pipeline
from pipelines.defs.partitions import BUILD_DB_TAGS, single_run, tenant_partitions
from pipelines.defs.resources import AuditoryxSettings
from pipelines.retries import retry_transient
from warehouse.layout import PUBLISHED_MARTS


@dg.asset(
    partitions_def=tenant_partitions, backfill_policy=single_run, group_name="publishing",
    deps=[dg.AssetKey(mart) for mart in PUBLISHED_MARTS], tags=BUILD_DB_TAGS,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL),
    description="published/<tenant_id>/<version>/ for each tenant of the run; others untouched.",
)
def tenant_snapshots(context: dg.AssetExecutionContext, auditoryx: AuditoryxSettings) -> dg.MaterializeResult:
    settings = auditoryx.settings()
    with retry_transient():
        result = pipeline.publish(settings, settings.effective_as_of(), list(context.partition_keys),
                                  context.log.info)
    return dg.MaterializeResult(metadata={"version": result.version, "tenants": len(result.tenant_ids),
                                          "removed_versions": result.removed_versions})
