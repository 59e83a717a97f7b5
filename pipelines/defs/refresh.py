"""The refresh as three assets: raw tables → dbt marts → published tenant snapshots."""

import dagster as dg

from auditoryx import pipeline
from pipelines.defs.resources import AuditoryxSettings
from warehouse.layout import current_version
from warehouse.reader import open_tenant_snapshot

RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)
BUILD_DB_TAGS = {"auditoryx/build-db": "writer"}


@dg.asset(group_name="refresh", retry_policy=RETRY, tags=BUILD_DB_TAGS,
          description="Operational tables of every tenant copied into the DuckDB raw tables.")
def operational_raw(context: dg.AssetExecutionContext, auditoryx: AuditoryxSettings) -> dg.MaterializeResult:
    result = pipeline.ingest(auditoryx.settings(), progress=context.log.info)
    return dg.MaterializeResult(metadata={f"rows_{table}": count for table, count in result.rows.items()}
                                | {"tenants": len(result.tenant_ids)})


@dg.asset(group_name="refresh", deps=[operational_raw], retry_policy=RETRY, tags=BUILD_DB_TAGS,
          description="dbt build (staging → intermediate → marts, with tests) over all tenants.")
def dbt_marts(context: dg.AssetExecutionContext, auditoryx: AuditoryxSettings) -> dg.MaterializeResult:
    settings = auditoryx.settings()
    as_of = settings.effective_as_of()
    pipeline.build_models(settings, as_of)
    return dg.MaterializeResult(metadata={"as_of": str(as_of)})


@dg.asset(group_name="refresh", deps=[dbt_marts], retry_policy=RETRY, tags=BUILD_DB_TAGS,
          description="Each tenant's marts published as a new version; CURRENT flipped atomically.")
def tenant_snapshots(context: dg.AssetExecutionContext, auditoryx: AuditoryxSettings) -> dg.MaterializeResult:
    settings = auditoryx.settings()
    result = pipeline.publish(settings, settings.effective_as_of(), progress=context.log.info)
    return dg.MaterializeResult(metadata={"version": result.version, "tenants": len(result.tenant_ids),
                                          "removed_versions": result.removed_versions})


@dg.asset_check(asset=tenant_snapshots, description="Every published tenant's CURRENT version opens and has meta.")
def snapshots_readable(auditoryx: AuditoryxSettings) -> dg.AssetCheckResult:
    settings = auditoryx.settings()
    published = settings.published_dir
    tenants = [p.name for p in published.iterdir() if p.is_dir() and not p.name.startswith("_")] if published.is_dir() else []
    unreadable = []
    for tenant_id in tenants:
        if current_version(published, tenant_id) is None:
            unreadable.append(tenant_id)
            continue
        snapshot = open_tenant_snapshot(published, tenant_id)
        try:
            snapshot.meta()
        finally:
            snapshot.close()
    return dg.AssetCheckResult(passed=bool(tenants) and not unreadable,
                               metadata={"tenants": len(tenants), "unreadable": ", ".join(unreadable)})


refresh_job = dg.define_asset_job("refresh_all_tenants", selection=dg.AssetSelection.groups("refresh"),
                                  tags=BUILD_DB_TAGS)
nightly_refresh = dg.ScheduleDefinition(job=refresh_job, cron_schedule="0 2 * * *", execution_timezone="UTC")
