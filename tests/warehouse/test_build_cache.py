"""The build database is a cache (issue #16): deleted or damaged, a refresh rebuilds it from the
operational database and the archived file drops (replayed in their original order, from the
journal outside the build database), and the marts come out identical."""
from __future__ import annotations

import duckdb
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditoryx.pipeline import refresh
from ingestion.files import landing_folder
from ingestion.files.journal import read_journal
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist
from warehouse.layout import PUBLISHED_MARTS
from warehouse.reader import open_tenant_snapshot

HEADER = "id,artist_id,title,type,status,start_date,end_date,duration_minutes,timezone,final_price,currency,payment_status"


def _marts(settings, tenant_ids) -> dict:
    found = {}
    for tenant_id in tenant_ids:
        snap = open_tenant_snapshot(settings.published_dir, tenant_id)
        try:
            found[tenant_id] = {m: snap.query(f"SELECT * FROM {m} ORDER BY ALL").rows() for m in PUBLISHED_MARTS}
        finally:
            snap.close()
    return found


def _drop(settings, tenant_id: str, name: str, rows: list[str]) -> None:
    folder = landing_folder(settings.resolved_landing_dir, tenant_id) / "bookings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")


def test_deleted_build_database_gives_identical_marts(app_env):
    settings = app_env
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=11, as_of=settings.as_of, password="pw", scale=0.05)
    with Session(engine) as session:
        artist = session.scalar(select(Artist.id).where(Artist.org_id == tenants[1].id).order_by(Artist.id).limit(1))
    engine.dispose()
    ids = [t.id for t in tenants]
    day = settings.as_of.isoformat()
    # two drops (processed by name); the second changes a row of the first (order matters) and adds a bad row
    _drop(settings, ids[1], "first.csv", [
        f"drop-1,{artist},Dropped,MIXING,COMPLETED,{day}T08:00:00Z,{day}T10:00:00Z,120,Europe/Berlin,250.00,EUR,PAID",
        f"drop-2,{artist},Dropped too,MIXING,CONFIRMED,{day}T08:00:00Z,{day}T10:00:00Z,120,UTC,80.00,USD,PENDING"])
    _drop(settings, ids[1], "second.csv", [
        f"drop-2,{artist},Now done,MIXING,COMPLETED,{day}T08:00:00Z,{day}T10:00:00Z,120,UTC,95.00,USD,PAID",
        f"drop-3,{artist},Crowns,MIXING,COMPLETED,{day}T08:00:00Z,{day}T10:00:00Z,120,UTC,10.00,DKK,PAID"])
    refresh(settings)
    before = _marts(settings, ids)
    journal = read_journal(settings.resolved_archive_dir)
    assert [e.file.rsplit("/", 1)[1] for e in journal] == ["first.csv", "second.csv"]
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        dropped = conn.execute("SELECT id, final_price FROM raw_files_bookings ORDER BY id").fetchall()
        quarantined = conn.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    assert [(i, str(p)) for i, p in dropped] == [("drop-1", "250.00"), ("drop-2", "95.00")] and quarantined == 1

    settings.build_database_path.unlink()  # deleted: rebuilt, the drops replayed in order
    rebuilt = refresh(settings)
    assert [f.source for f in rebuilt.ingestion.file_drops.replayed] == [
        f"file:{ids[1]}/bookings/first.csv", f"file:{ids[1]}/bookings/second.csv"]
    assert _marts(settings, ids) == before
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        assert conn.execute("SELECT id, final_price FROM raw_files_bookings ORDER BY id").fetchall() == dropped
        assert conn.execute("SELECT count(*) FROM quarantine").fetchone()[0] == quarantined
    assert read_journal(settings.resolved_archive_dir) == journal  # nothing appended twice



def test_a_damaged_build_database_is_detected_and_moved_aside(app_env, tmp_path):
    from auditoryx.pipeline import heal_build_database
    from warehouse.build_db import DamagedBuildDatabase, connect_build, is_damage, probe_build_database

    path = app_env.build_database_path
    path.parent.mkdir(parents=True)
    assert probe_build_database(path) is None and not heal_build_database(app_env)  # none yet: nothing to do
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE t AS SELECT range AS i FROM range(100000)")
    assert probe_build_database(path) is None and not heal_build_database(app_env)  # sound: kept
    data = path.read_bytes()
    path.write_bytes(data[:4096] + b"\x00" * (len(data) - 4096))  # blocks zeroed: failing checksums
    assert "checksum" in probe_build_database(path)
    path.write_bytes(b"\x00garbage" * 4096)  # not a DuckDB file at all
    with pytest.raises(DamagedBuildDatabase) as damaged:
        connect_build(path)
    message = str(damaged.value)
    assert str(path) in message and "auditoryx refresh" in message and "\n" not in message
    messages = []
    assert heal_build_database(app_env, messages.append)
    assert not path.exists() and len(list(path.parent.glob("build.duckdb.damaged-*"))) == 1
    assert "moved to" in messages[0] and "rebuilding" in messages[0]
    assert is_damage(duckdb.IOException("Could not read enough bytes from file")) and \
        not is_damage(duckdb.IOException('Could not set lock on file "b.duckdb": Conflicting lock is held'))


def test_the_build_database_is_opened_with_the_memory_cap(tmp_path, monkeypatch):
    from auditoryx.errors import AuditoryxError
    from warehouse.build_db import MEMORY_LIMIT_ENV, connect_build

    def cap(value: str | None) -> str:
        if value is None:
            monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
        else:
            monkeypatch.setenv(MEMORY_LIMIT_ENV, value)
        conn = connect_build(tmp_path / "w.duckdb")
        try:
            return conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        finally:
            conn.close()

    assert cap(None) == cap("2GB") != cap("512MB")
    assert cap("512MB").startswith("488")  # DuckDB shows 512 MB in MiB
    for bad in ("lots", "2GB'; DROP TABLE x; --", "-1GB"):
        with pytest.raises(AuditoryxError, match=MEMORY_LIMIT_ENV):
            cap(bad)
