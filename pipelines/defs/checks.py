"""Asset checks on the published snapshots: readable, complete, fresh."""
import datetime as dt

import dagster as dg

from pipelines.defs.assets.ingest import raw_asset_key
from pipelines.defs.assets.publish import tenant_snapshots
from pipelines.defs.resources import AuditoryxSettings
from pipelines.snapshot_health import snapshot_health, unreconciled_runs


@dg.asset_check(asset=tenant_snapshots, blocking=True,
                description="Every published tenant's CURRENT version opens, and tenants with bookings "
                            "have non-empty revenue and booking marts.")
def snapshots_complete(auditoryx: AuditoryxSettings) -> dg.AssetCheckResult:
    health = snapshot_health(auditoryx.settings())
    problems = {t: h.problem for t, h in health.items() if h.problem}
    return dg.AssetCheckResult(passed=bool(health) and not problems,
                               metadata={"tenants": len(health), "problems": str(problems)[:2000]})


@dg.asset_check(asset=tenant_snapshots,
                description="No tenant snapshot is older than AUDITORYX_FRESHNESS_HOURS (default 26 h).")
def snapshots_fresh(auditoryx: AuditoryxSettings) -> dg.AssetCheckResult:
    settings = auditoryx.settings()
    limit = dt.timedelta(hours=settings.freshness_hours)
    now = dt.datetime.now(dt.timezone.utc)
    health = snapshot_health(settings)
    stale = sorted(t for t, h in health.items() if h.refreshed_at is None or now - h.refreshed_at > limit)
    return dg.AssetCheckResult(passed=not stale, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"stale_tenants": len(stale), "limit_hours": settings.freshness_hours})


@dg.asset_check(asset=raw_asset_key("files_bookings"), blocking=True,
                description="Every file drop reconciles: rows read = rows loaded + rows quarantined.")
def file_drops_reconcile(auditoryx: AuditoryxSettings) -> dg.AssetCheckResult:
    unbalanced = unreconciled_runs(auditoryx.settings())
    return dg.AssetCheckResult(passed=not unbalanced, metadata={"unbalanced_runs": str(unbalanced)[:2000]})
