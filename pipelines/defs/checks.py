"""Asset checks on the published snapshots: readable, complete, fresh."""
import datetime as dt

import dagster as dg

from pipelines.defs.assets.ingest import raw_asset_key
from pipelines.defs.assets.publish import tenant_snapshots
from pipelines.defs.partitions import tenant_partitions
from pipelines.defs.resources import AuditoryxSettings
from pipelines.snapshot_health import (
    DEEP_CHECK_LIMIT,
    build_results,
    snapshot_health,
    tenant_build_failures,
    unreconciled_runs,
)


def run_tenants(context: dg.AssetCheckExecutionContext) -> list[str] | None:
    """The tenants this run refreshed (its partitions), or None when the run has no partitions."""
    op_context = context.op_execution_context
    try:
        return list(op_context.partition_keys) if op_context.has_partition_key_range or op_context.has_partition_key else None
    except dg.DagsterInvariantViolationError:
        return None


COMPLETE_CHECK, FRESH_CHECK = "snapshots_complete", "snapshots_fresh"


@dg.multi_asset_check(specs=[
    dg.AssetCheckSpec(COMPLETE_CHECK, asset=tenant_snapshots, blocking=True,
                      description="Every published tenant's CURRENT version has every table; the files of "
                                  "the tenants this run refreshed (of every tenant in a run without partitions) "
                                  "read, their meta names them and, with bookings, their booking mart is not "
                                  "empty; the run's tenants (up to 50) are also opened as the dashboard opens "
                                  "them."),
    dg.AssetCheckSpec(FRESH_CHECK, asset=tenant_snapshots,
                      description="No tenant snapshot is older than AUDITORYX_FRESHNESS_HOURS (default 26 h)."),
])
def published_snapshots(context: dg.AssetCheckExecutionContext, auditoryx: AuditoryxSettings):
    """Both checks of the published snapshots from one look at them (every tenant's pointer,
    folder listing and meta; the files of the run's tenants)."""
    settings = auditoryx.settings()
    deep = run_tenants(context)  # a run over some tenants reads only their files: the others' did not change
    health = snapshot_health(settings, deep=deep, read=deep)
    # a tenant with nothing published because its build failed is reported by tenant_build_passed
    problems = {t: h.problem for t, h in health.items() if h.problem and not (h.build_failure and h.version is None)}
    opened = min(DEEP_CHECK_LIMIT, len(health) if deep is None else len(set(deep) & set(health)))
    yield dg.AssetCheckResult(asset_key=tenant_snapshots.key, check_name=COMPLETE_CHECK,
                              passed=bool(health) and not problems,
                              metadata={"tenants": len(health), "opened_one_by_one": opened,
                                        "problems": str(problems)[:2000]})
    limit = dt.timedelta(hours=settings.freshness_hours)
    now = dt.datetime.now(dt.timezone.utc)
    stale = sorted(t for t, h in health.items() if h.refreshed_at is None or now - h.refreshed_at > limit)
    yield dg.AssetCheckResult(asset_key=tenant_snapshots.key, check_name=FRESH_CHECK, passed=not stale,
                              severity=dg.AssetCheckSeverity.WARN,
                              metadata={"stale_tenants": len(stale), "limit_hours": settings.freshness_hours})


@dg.asset_check(asset=raw_asset_key("files_bookings"), blocking=True,
                description="Every file drop reconciles: rows read = rows loaded + rows quarantined.")
def file_drops_reconcile(auditoryx: AuditoryxSettings) -> dg.AssetCheckResult:
    unbalanced = unreconciled_runs(auditoryx.settings())
    return dg.AssetCheckResult(passed=not unbalanced, metadata={"unbalanced_runs": str(unbalanced)[:2000]})


TENANT_BUILD_CHECK = "tenant_build_passed"


@dg.asset_check(asset=tenant_snapshots, name=TENANT_BUILD_CHECK, partitions_def=tenant_partitions,
                description="Per tenant partition: the tenant's rows passed every data test of the build. A tenant "
                            "that failed keeps its last good version (the others publish); the reasons are in "
                            "the check's metadata and in published/<tenant id>/BUILD_STATUS.json.")
def tenant_build_passed(context: dg.AssetCheckExecutionContext, auditoryx: AuditoryxSettings):
    """One evaluation per tenant partition of the run (a run over many tenants is a single run,
    so the evaluations are emitted per partition rather than as one result for the range)."""
    tenants = run_tenants(context) or []
    failures = tenant_build_failures(auditoryx.settings())
    for tenant_id, passed, reason in build_results(tenants, failures):
        yield dg.AssetCheckEvaluation(
            asset_key=tenant_snapshots.key, check_name=TENANT_BUILD_CHECK, passed=passed, partition=tenant_id,
            severity=dg.AssetCheckSeverity.ERROR, blocking=False,
            metadata={"reason": (reason or "")[:2000]} if reason else {})
    yield dg.Output(None)
