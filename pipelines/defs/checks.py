"""Asset checks on the published snapshots: readable, complete, fresh."""
import datetime as dt

import dagster as dg

from pipelines.defs.assets.publish import tenant_snapshots
from pipelines.defs.resources import AuditoryxSettings
from pipelines.snapshot_health import snapshot_health


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
