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
from warehouse.layout import current_version
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
    health = snapshot_health(settings)
    assert health[x.id].problem is None and "assert_bookings_have_fx_rates" in health[x.id].build_failure
    assert health[z.id].build_failure is None

    # the DKK rows: quarantined with the currency named, from both sources
    assert [(r[0], r[2]) for r in second.ingestion.quarantined] == [(x.id, dkk["id"])]
    assert "'DKK' has no FX rate" in second.ingestion.quarantined[0][3]
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        dropped = conn.execute("SELECT tenant_id, reason FROM quarantine").fetchall()
    assert len(dropped) == 1 and dropped[0][0] == z.id and "'DKK' has no FX rate" in dropped[0][1]

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


def test_the_command_lists_failed_tenants_and_exits_non_zero(capsys):
    from auditoryx.cli import _file_drop_problems
    from auditoryx.errors import AuditoryxError
    from ingestion.files import FileDropReport

    drops = FileDropReport(started_at=dt.datetime.now(dt.timezone.utc))
    _file_drop_problems(drops, {})  # nothing failed: exit 0
    with pytest.raises(AuditoryxError, match="1 tenants not published"):
        _file_drop_problems(drops, {"t-x": ["dbt test assert_bookings_have_fx_rates: 1 failing row"]})
    assert "failed tenant t-x (keeps its last version): dbt test assert_bookings_have_fx_rates" in capsys.readouterr().err
