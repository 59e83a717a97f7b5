"""Report exports: each tenant's weekly report (XLSX + CSV per section) with a manifest; the
per-tenant scheduled reports are pipelines/defs/report_schedules.py."""
import dagster as dg

from operational.db import make_engine
from operational.permissions import command_line_operator
from operational.tenants import active_tenants
from pipelines.defs.assets.publish import tenant_snapshots
from pipelines.defs.partitions import single_run, tenant_partitions
from pipelines.defs.resources import AuditoryxSettings
from reports.export import export_tenant


@dg.asset(partitions_def=tenant_partitions, backfill_policy=single_run, group_name="reports",
          deps=[tenant_snapshots],
          description="exports/<tenant id>/<period>/<stamp>/ (XLSX, CSV per section, manifest.json), per tenant.")
def report_exports(context: dg.AssetExecutionContext, auditoryx: AuditoryxSettings) -> dg.MaterializeResult:
    settings = auditoryx.settings()
    engine = make_engine(settings.operational_database_url)
    try:
        slugs = active_tenants(engine)
        exported = [export_tenant(settings, tenant_id, actor=command_line_operator(tenant_id), formats=("xlsx", "csv"),
                                  engine=engine)
                    for tenant_id in context.partition_keys if tenant_id in slugs]
    finally:
        engine.dispose()
    return dg.MaterializeResult(metadata={"exports": len(exported),
                                          "files": sum(len(e.manifest["files"]) for e in exported)})


report_exports_job = dg.define_asset_job("export_reports", selection=[report_exports.key],
                                         partitions_def=tenant_partitions)
