"""The walking skeleton end to end: operational DB → DuckDB → dbt → tenant snapshots."""
from __future__ import annotations

import datetime as dt
import decimal
import json

from sqlalchemy import update
from sqlalchemy.orm import Session

from auditoryx.pipeline import build_models, ingest, refresh
from auditoryx.settings import get_settings
from operational.db import make_engine
from operational.models import Booking
from tests.e2e.conftest import CANARY, populate
from warehouse.layout import PUBLISHED_MARTS, current_version
from warehouse.pending import build_scope, scope_tables
from warehouse.reader import open_tenant_snapshot


def _published(settings, tenant_id: str) -> dict[str, list[tuple]]:
    snap = open_tenant_snapshot(settings.published_dir, tenant_id)
    try:
        return {m: snap.query(f"SELECT * FROM {m} ORDER BY ALL").rows() for m in PUBLISHED_MARTS}
    finally:
        snap.close()


def test_each_tenant_sees_only_its_own_numbers(refreshed):
    settings, (tenant_a, tenant_b) = refreshed
    a, b = (open_tenant_snapshot(settings.published_dir, t.id) for t in (tenant_a, tenant_b))
    top_b = b.query("SELECT artist_name, recognized_revenue FROM top_performers WHERE rank = 1").row(0)
    assert top_b == (CANARY, decimal.Decimal("987654.32"))
    assert CANARY not in str(_published(settings, tenant_a.id))
    for snap, tenant in ((a, tenant_a), (b, tenant_b)):
        assert set(snap.query("SELECT DISTINCT tenant_id FROM fct_revenue_monthly")["tenant_id"]) == {tenant.id}
        meta = snap.meta()
        assert meta["as_of"] == settings.as_of and meta["row_counts"]["bookings"] > 0
    assert a.meta()["base_currency"] == "USD" and b.meta()["base_currency"] == "EUR"


def test_refresh_again_gives_identical_marts_and_keeps_the_version(refreshed):
    settings, tenants = refreshed
    before = {t.id: _published(settings, t.id) for t in tenants}
    versions = {t.id: current_version(settings.published_dir, t.id) for t in tenants}
    refresh(settings)
    for tenant in tenants:  # nothing changed: nothing republished (issue 18)
        assert current_version(settings.published_dir, tenant.id) == versions[tenant.id]
        assert _published(settings, tenant.id) == before[tenant.id]


def test_postgres_source_gives_the_same_marts_as_sqlite(refreshed, pg_url, monkeypatch, tmp_path):
    settings, tenants = refreshed
    monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", pg_url)
    monkeypatch.setenv("AUDITORYX_VAR_DIR", str(tmp_path / "pg-var"))
    pg_settings = get_settings()
    populate(pg_url, pg_settings.as_of)
    refresh(pg_settings)
    for tenant in tenants:
        assert _published(pg_settings, tenant.id) == _published(settings, tenant.id)


def test_a_tenant_refresh_builds_from_the_tables_extraction_wrote(refreshed):
    """Extraction narrows each requested tenant's pending mark to the raw tables it wrote for it;
    the next build then runs only what depends on them."""
    settings, (tenant_a, tenant_b) = refreshed
    engine = make_engine(settings.operational_database_url)
    with Session(engine) as session, session.begin():
        session.execute(update(Booking).where(Booking.org_id == tenant_a.id, Booking.status == "COMPLETED")
                        .values(payment_status="PAID", updated_at=dt.datetime.now(dt.timezone.utc)))
    engine.dispose()

    ingest(settings, [tenant_a.id, tenant_b.id])
    db = settings.build_database_path
    assert build_scope(db) == [tenant_a.id]                            # B was read: nothing to build for it
    assert scope_tables(db, [tenant_a.id]) == ["bookings"]
    assert scope_tables(db, [tenant_b.id]) == []                       # read, nothing changed

    build_models(settings, settings.effective_as_of())
    results = json.loads((settings.dbt_work_dir / "target" / "run_results.json").read_text())["results"]
    ran = {r["unique_id"].split(".")[2] for r in results}
    assert {"int_bookings_enriched", "fct_receivables_aging", "kpi_summary"} <= ran
    assert "fct_project_health" not in ran and "int_projects_enriched" not in ran
    assert build_scope(db) is None
