"""Extraction of the operational database into the DuckDB raw tables: one asset per source table,
partitioned by tenant, materialized together in one transaction."""
import dagster as dg

from auditoryx import pipeline
from ingestion.raw_schema import RAW_TABLES
from pipelines.defs.partitions import BUILD_DB_TAGS, single_run, tenant_partitions
from pipelines.defs.resources import AuditoryxSettings
from pipelines.retries import retry_transient


def raw_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


class ExtractConfig(dg.Config):
    mode: str = "incremental"  # "full" re-reads tenants whole (nightly key reconciliation)


@dg.multi_asset(
    name="operational_raw",
    specs=[dg.AssetSpec(raw_asset_key(table), group_name="ingestion", partitions_def=tenant_partitions,
                        description=f"raw_{table}: the tenants' `{table}` rows, incremental by updated_at.")
           for table in RAW_TABLES],
    partitions_def=tenant_partitions, backfill_policy=single_run, op_tags=BUILD_DB_TAGS,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def operational_raw(context: dg.AssetExecutionContext, config: ExtractConfig, auditoryx: AuditoryxSettings):
    settings = auditoryx.settings()
    with retry_transient():
        result = pipeline.ingest(settings, list(context.partition_keys), context.log.info, config.mode)
    for table in RAW_TABLES:
        yield dg.MaterializeResult(asset_key=raw_asset_key(table), metadata={
            "mode": result.mode, "tenants": len(result.tenant_ids), "rows_upserted": result.rows[table],
            "removed_tenants": len(result.removed_tenants),
        })
