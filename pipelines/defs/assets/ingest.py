"""Extraction of the operational database into the DuckDB raw tables: one asset per source table,
materialized together in one transaction. Unpartitioned: one step (and one materialization per
table) per run, over the run's tenants (its tenant partition or partition range)."""
import dagster as dg

from auditoryx import pipeline
from ingestion.files import ENTITIES
from ingestion.raw_schema import RAW_TABLES
from pipelines.defs.partitions import BUILD_DB_TAGS, tenant_partitions
from pipelines.defs.resources import AuditoryxSettings
from pipelines.retries import retry_transient
from pipelines.run_scope import tenants_of_run


def raw_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


def run_tenant_ids(context: dg.AssetExecutionContext) -> list[str] | None:
    """The run's tenants (its tenant partition or range; None: every tenant), for unpartitioned steps."""
    return tenants_of_run(context.run.tags, context.instance.get_dynamic_partitions(tenant_partitions.name))


class ExtractConfig(dg.Config):
    mode: str = "incremental"  # "full" re-reads tenants whole (nightly key reconciliation)


@dg.multi_asset(
    name="operational_raw",
    specs=[dg.AssetSpec(raw_asset_key(table), group_name="ingestion",
                        description=f"raw_{table}: the tenants' `{table}` rows, incremental by updated_at.")
           for table in RAW_TABLES]
    + [dg.AssetSpec(raw_asset_key(f"files_{entity}"), group_name="ingestion",
                    description=f"raw_files_{entity}: validated `{entity}` rows from tenants' file drops "
                                "(bad rows go to `quarantine`).")
       for entity in ENTITIES],
    op_tags=BUILD_DB_TAGS,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def operational_raw(context: dg.AssetExecutionContext, config: ExtractConfig, auditoryx: AuditoryxSettings):
    settings = auditoryx.settings()
    tenants = run_tenant_ids(context)
    context.log.info(f"extracting {'every tenant' if tenants is None else f'{len(tenants)} tenants'}")
    with retry_transient():
        result = pipeline.ingest(settings, tenants, context.log.info, config.mode)
    extraction, drops = result.extraction, result.file_drops
    if drops.has_errors:
        failed = [f"{f.source}: {f.error}" for f in drops.with_status("error")]
        raise dg.Failure("file drops failed (left in the landing folder for the next run): " + "; ".join(failed))
    for table in RAW_TABLES:
        yield dg.MaterializeResult(asset_key=raw_asset_key(table), metadata={
            "mode": extraction.mode, "tenants": len(extraction.tenant_ids),
            "rows_upserted": extraction.rows[table], "removed_tenants": len(extraction.removed_tenants),
        })
    for entity in ENTITIES:
        files = [f for f in drops.files if f.entity == entity]
        yield dg.MaterializeResult(asset_key=raw_asset_key(f"files_{entity}"), metadata={
            "files": len(files), "rejected_files": sum(f.status == "rejected" for f in files),
            "rows_read": sum(f.rows_read for f in files), "rows_loaded": sum(f.rows_loaded for f in files),
            "rows_quarantined": sum(f.rows_quarantined for f in files),
        })
