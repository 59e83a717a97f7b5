"""One tenant's bad data never stops another tenant (issue #16), on SQLite and PostgreSQL.

Tenant X gets a booking that passes validation but cannot be converted (EUR before the FX seed's
first rate) and tenant Y a booking pointing at X's artist (a cross-tenant reference the database
would refuse, written with its checks off): both keep their last good version, are recorded as
failed with the reasons, and every other tenant publishes. A booking in DKK (valid ISO 4217, no
FX rate) is quarantined before the build, from the operational database and from a file drop.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

import duckdb
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from auditoryx.pipeline import refresh
from auditoryx.settings import get_settings
from ingestion.files import landing_folder
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking
from pipelines.snapshot_health import snapshot_health
from warehouse.layout import PUBLISHED_QUALITY_TABLES, current_version
from warehouse.reader import open_platform_snapshot, open_version_folder
from warehouse.tenant_status import STATUS_FILE, read_status


def _booking(tenant_id: str, artist_id: str, currency: str, end: dt.datetime, title: str) -> dict:
    return {"id": str(uuid.uuid4()), "org_id": tenant_id, "artist_id": artist_id, "title": title,
            "type": "MIXING", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=1), "end_date": end,
            "duration_minutes": 60, "timezone": "UTC", "final_price": 10, "currency": currency,
            "payment_status": "PAID"}


def _insert_unchecked(engine, row: dict) -> None:
    """Insert past the database's own checks (foreign keys), as a legacy or broken source might."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        else:
            conn.execute(text("SET session_replication_role = replica"))  # no FK triggers (superuser)
        conn.execute(insert(Booking), [row])
        conn.commit()
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        else:
            conn.execute(text("SET session_replication_role = DEFAULT"))
            # replica mode skipped every trigger, the change-number one too: touch the row again (its
            # foreign key unchanged, in a later transaction: not checked) so that extraction sees it
            conn.execute(Booking.__table__.update().where(Booking.id == row["id"])
                         .values(updated_at=dt.datetime.now(dt.timezone.utc)))
            conn.commit()


NUMBERS = ("total_bookings", "completed_bookings", "recognized_revenue_usd", "recognized_revenue")


def _platform(settings) -> tuple[dict[str, dict], list[dict], str]:
    """The operator's snapshot: tenant → platform_tenant_summary row, the overview rows, its version."""
    snap = open_platform_snapshot(settings.published_dir)
    try:
        rows = {r["tenant_id"]: r for r in snap.query("SELECT * FROM platform_tenant_summary").iter_rows(named=True)}
        return rows, list(snap.query("SELECT * FROM platform_overview ORDER BY ALL").iter_rows(named=True)), snap.version
    finally:
        snap.close()


def _built_summary(settings) -> dict[str, dict]:
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        cursor = conn.execute("SELECT * FROM marts.platform_tenant_summary")
        names = [c[0] for c in cursor.description]
        return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}


def _overview_of(rows: dict[str, dict]) -> list[tuple]:
    groups: dict[tuple, list] = {}
    for r in rows.values():
        total = groups.setdefault((r["plan"], r["organization_type"]), [0, 0, 0, 0, 0])
        total[0] += 1
        total[1] += bool(r["is_active"])
        total[2] += r["total_bookings"] or 0
        total[3] += r["completed_bookings"] or 0
        total[4] += r["recognized_revenue_usd"] or 0
    return sorted((*key, *values) for key, values in groups.items())


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request, app_env, monkeypatch):
    if request.param == "postgresql":
        monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", request.getfixturevalue("pg_url"))
    settings = get_settings()
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    tenants = generate(engine, tenants=3, seed=7, as_of=settings.as_of, password="pw", scale=0.05)
    yield settings, engine, tenants
    engine.dispose()


def test_bad_tenants_keep_their_version_and_the_others_publish(platform):
    settings, engine, (x, y, z) = platform
    first = refresh(settings)
    assert sorted(first.publication.tenant_ids) == sorted([x.id, y.id, z.id]) and not first.failed_tenants
    old = {t.id: current_version(settings.published_dir, t.id) for t in (x, y, z)}
    good, _, _ = _platform(settings)
    assert {t: r["numbers_from"] for t, r in good.items()} == {t.id: "this build" for t in (x, y, z)}
    assert not any(r["build_failed"] for r in good.values()) and good[x.id]["snapshot_version"] == old[x.id]

    with Session(engine) as session:
        x_artist = session.scalar(select(Artist.id).where(Artist.org_id == x.id).order_by(Artist.id).limit(1))
        z_artist = session.scalar(select(Artist.id).where(Artist.org_id == z.id).order_by(Artist.id).limit(1))
    early = dt.datetime(2021, 6, 1, 12, tzinfo=dt.timezone.utc)  # the FX seed starts 2022-01-03
    recent = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
    no_rate = _booking(x.id, x_artist, "EUR", early, "Before the first rate")
    dkk = _booking(x.id, x_artist, "DKK", recent, "Danish crowns")
    with Session(engine) as session, session.begin():
        session.execute(insert(Booking), [no_rate, dkk])
    _insert_unchecked(engine, _booking(y.id, x_artist, "USD", recent, "Someone else's artist"))
    drop = landing_folder(settings.resolved_landing_dir, z.id) / "bookings" / "dkk.csv"
    drop.parent.mkdir(parents=True)
    drop.write_text("id,artist_id,title,type,status,start_date,end_date,duration_minutes,timezone,final_price,currency\n"
                    f"z-dkk,{z_artist},Dropped,MIXING,COMPLETED,2026-06-01T10:00:00Z,2026-06-01T11:00:00Z,60,UTC,5.00,DKK\n",
                    encoding="utf-8")

    second = refresh(settings)

    assert sorted(second.failed_tenants) == sorted([x.id, y.id])
    assert any("assert_bookings_have_fx_rates" in r and no_rate["id"] in r for r in second.failed_tenants[x.id])
    assert not any(dkk["id"] in r for r in second.failed_tenants[x.id])  # quarantined before the build
    assert any("relationships_within_tenant" in r for r in second.failed_tenants[y.id])
    assert second.publication.tenant_ids == (z.id,)
    for tenant in (x, y):
        assert current_version(settings.published_dir, tenant.id) == old[tenant.id]
        status = read_status(settings.published_dir, tenant.id)
        assert status.kept_version == old[tenant.id] and status.reasons == tuple(second.failed_tenants[tenant.id])
    assert current_version(settings.published_dir, z.id) != old[z.id]

    # the operator's platform snapshot keeps X's and Y's last good numbers, not the failed build's
    built = _built_summary(settings)
    assert built[y.id]["completed_bookings"] == good[y.id]["completed_bookings"] + 1  # the failed build counted it
    rows, overview, _ = _platform(settings)
    for tenant in (x, y):
        row = rows[tenant.id]
        assert {k: row[k] for k in NUMBERS} == {k: good[tenant.id][k] for k in NUMBERS}
        assert row["numbers_from"] == "last good build" and row["build_failed"] is True
        assert row["snapshot_version"] == old[tenant.id] and row["build_failure"] == "; ".join(second.failed_tenants[tenant.id])
    assert rows[z.id]["numbers_from"] == "this build" and rows[z.id]["build_failed"] is False
    assert {k: rows[z.id][k] for k in NUMBERS} == {k: built[z.id][k] for k in NUMBERS}
    assert rows[z.id]["snapshot_version"] == current_version(settings.published_dir, z.id)
    assert [(r["plan"], r["organization_type"], r["tenants"], r["active_tenants"], r["total_bookings"],
             r["completed_bookings"], r["recognized_revenue_usd"]) for r in overview] == _overview_of(rows)

    health = snapshot_health(settings)
    assert health[x.id].problem is None and "assert_bookings_have_fx_rates" in health[x.id].build_failure
    assert health[z.id].build_failure is None

    # the DKK rows: quarantined with the currency named, from both sources
    assert [(r[0], r[2]) for r in second.ingestion.quarantined] == [(x.id, dkk["id"])]
    assert "'DKK' has no FX rate" in second.ingestion.quarantined[0][3]
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        dropped = conn.execute("SELECT tenant_id, reason FROM quarantine").fetchall()
    assert len(dropped) == 1 and dropped[0][0] == z.id and "'DKK' has no FX rate" in dropped[0][1]
    # ... and published into Z's own version for its data-quality page, with the file's run
    z_version = current_version(settings.published_dir, z.id)
    snap = open_version_folder(z.id, z_version, settings.published_dir / z.id / z_version,
                               tables=(*PUBLISHED_QUALITY_TABLES, "meta"))
    try:
        quarantined = snap.query("SELECT tenant_id, source, file, \"column\", value, reason FROM quarantined_rows").rows()
        runs = snap.query("SELECT tenant_id, file_name, rows_read, rows_quarantined, status FROM ingestion_runs").rows()
    finally:
        snap.close()
    assert [row[:5] for row in quarantined] == [(z.id, "file drop", f"{z.id}/bookings/dkk.csv", "currency", "DKK")]
    assert "'DKK' has no FX rate" in quarantined[0][5]
    assert runs == [(z.id, "dkk.csv", 1, 1, "ok")]

    if engine.dialect.name != "sqlite":
        return  # the rest does not depend on the source's backend
    # X is fixed at the source: its refresh publishes it; Y (still pending) is checked again and still fails
    with Session(engine) as session, session.begin():
        session.execute(Booking.__table__.update().where(Booking.id == no_rate["id"]).values(
            start_date=recent - dt.timedelta(hours=1), end_date=recent, updated_at=dt.datetime.now(dt.timezone.utc)))
    third = refresh(settings, [x.id])
    assert sorted(third.failed_tenants) == [y.id]
    assert third.publication.tenant_ids == (x.id,) and current_version(settings.published_dir, x.id) != old[x.id]
    assert not (settings.published_dir / x.id / STATUS_FILE).exists()
    assert current_version(settings.published_dir, y.id) == old[y.id]
    assert json.loads((settings.published_dir / y.id / STATUS_FILE).read_text())["since"]
    # Y fails again: its last good numbers are carried over from the previous platform version
    rows, _, _ = _platform(settings)
    assert rows[x.id]["numbers_from"] == "this build" and not rows[x.id]["build_failed"]
    assert rows[y.id]["numbers_from"] == "last good build"
    assert {k: rows[y.id][k] for k in NUMBERS} == {k: good[y.id][k] for k in NUMBERS}


def test_the_command_lists_failed_tenants_and_exits_non_zero(capsys):
    from auditoryx.cli import _file_drop_problems
    from auditoryx.errors import AuditoryxError
    from ingestion.files import FileDropReport

    drops = FileDropReport(started_at=dt.datetime.now(dt.timezone.utc))
    _file_drop_problems(drops, {})  # nothing failed: exit 0
    with pytest.raises(AuditoryxError, match="1 tenants not published"):
        _file_drop_problems(drops, {"t-x": ["dbt test assert_bookings_have_fx_rates: 1 failing row"]})
    assert "failed tenant t-x (keeps its last version): dbt test assert_bookings_have_fx_rates" in capsys.readouterr().err
