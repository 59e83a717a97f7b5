"""Publishing and reading tenant versions: layout, atomic pointer, engine-enforced isolation."""
from __future__ import annotations

import datetime as dt
import os
import time

import duckdb
import pytest

from auditoryx.errors import AuditoryxError
from warehouse.build_db import connect_build, ensure_raw_tables
from warehouse.layout import PLATFORM_MARTS, PUBLISHED_MARTS, PUBLISHED_QUALITY_TABLES, current_version
from warehouse.publish import publish_platform, publish_tenants, remove_stale_versions
from warehouse.reader import ReadOnlyViolation, SnapshotNotFound, open_platform_snapshot, open_tenant_snapshot
from warehouse.snapshot import write_tenant_snapshot

AS_OF = dt.date(2026, 6, 30)
TENANTS = {"tenant-a": "USD", "tenant-b": "EUR", "tenant-c": "JPY"}


@pytest.fixture
def build(tmp_path):
    """A build database with raw organizations and small stand-in marts (tenant-c has no rows)."""
    conn = connect_build(tmp_path / "build.duckdb")
    ensure_raw_tables(conn)
    for tenant, currency in TENANTS.items():
        conn.execute("INSERT INTO raw_organizations (id, name, slug, settings) VALUES (?, ?, ?, ?)",
                     [tenant, tenant.upper(), tenant, f'{{"base_currency": "{currency}"}}'])
    conn.execute("CREATE SCHEMA marts")
    for mart in PUBLISHED_MARTS:
        conn.execute(f"CREATE TABLE marts.{mart} (tenant_id VARCHAR, label VARCHAR, amount DECIMAL(18,2))")
        conn.executemany(f"INSERT INTO marts.{mart} VALUES (?, ?, ?)",
                         [["tenant-a", "alpha row", 10.25], ["tenant-b", "CANARY-B", 99.99]])
    yield conn
    conn.close()


def test_every_tenant_gets_a_complete_version(build, tmp_path):
    published = tmp_path / "published"
    result = publish_tenants(build, published, as_of=AS_OF)
    assert sorted(result.tenant_ids) == sorted(TENANTS)
    for tenant in TENANTS:
        version = current_version(published, tenant)
        assert version == result.version
        files = sorted(p.name for p in (published / tenant / version).iterdir())
        assert files == sorted([f"{m}.parquet" for m in (*PUBLISHED_MARTS, *PUBLISHED_QUALITY_TABLES)]
                               + ["meta.parquet"])
    snap = open_tenant_snapshot(published, "tenant-a")
    assert snap.query("SELECT label, amount FROM top_performers").rows() == [("alpha row", pytest.approx(10.25))]
    meta = snap.meta()
    assert (meta["tenant_slug"], meta["base_currency"], meta["as_of"]) == ("tenant-a", "USD", AS_OF)
    assert meta["row_counts"]["organizations"] == 1
    empty = open_tenant_snapshot(published, "tenant-c")
    assert empty.query("SELECT count(*) AS n FROM kpi_summary")["n"][0] == 0
    assert not (published / "_staging").exists() or not any((published / "_staging").iterdir())


def test_reader_is_confined_to_its_tenant(build, tmp_path):
    published = tmp_path / "published"
    publish_tenants(build, published, as_of=AS_OF)
    snap = open_tenant_snapshot(published, "tenant-a")
    other = published / "tenant-b" / current_version(published, "tenant-b") / "top_performers.parquet"
    for statement in (
        f"SELECT * FROM read_parquet('{other}')",
        f"SELECT * FROM read_parquet('{snap.folder}/../../tenant-b/*/top_performers.parquet')",
        "SELECT * FROM read_csv('/etc/passwd')",
    ):
        with pytest.raises(duckdb.PermissionException):
            snap.query(statement)
    for statement in ("ATTACH 'x.duckdb'", "SET enable_external_access = true",
                      f"COPY top_performers TO '{snap.folder}/leak.csv'", "SELECT 1; SELECT 2"):
        with pytest.raises((ReadOnlyViolation, duckdb.Error)):
            snap.query(statement)
    everything = " ".join(str(v) for m in PUBLISHED_MARTS for v in snap.query(f"SELECT * FROM {m}").rows())
    assert "CANARY-B" not in everything


def test_one_tenant_publish_keeps_the_others_and_old_versions_age_out(build, tmp_path):
    published = tmp_path / "published"
    first = publish_tenants(build, published, as_of=AS_OF)
    open_reader = open_tenant_snapshot(published, "tenant-a")
    second = publish_tenants(build, published, as_of=AS_OF, tenant_ids=["tenant-a"], grace_seconds=300)
    assert current_version(published, "tenant-a") == second.version
    assert current_version(published, "tenant-b") == first.version
    # the retired version stays for readers that still have it open…
    assert open_reader.query("SELECT count(*) AS n FROM meta")["n"][0] == 1
    assert (published / "tenant-a" / first.version).is_dir()
    # …and goes once its grace period has passed
    old = time.time() - 3600
    os.utime(published / "tenant-a" / first.version, (old, old))
    assert remove_stale_versions(published, "tenant-a", grace_seconds=300) == 1
    assert not (published / "tenant-a" / first.version).exists()


def test_bad_tenant_ids_and_missing_snapshots(tmp_path):
    with pytest.raises(AuditoryxError):
        open_tenant_snapshot(tmp_path, "../etc")
    with pytest.raises(SnapshotNotFound):
        open_tenant_snapshot(tmp_path, "nobody")


def test_analyst_snapshot_file(build, tmp_path):
    published = tmp_path / "published"
    publish_tenants(build, published, as_of=AS_OF)
    out = write_tenant_snapshot(published, "tenant-b", tmp_path / "exports" / "b.duckdb")
    with duckdb.connect(str(out), read_only=True) as conn:
        tables = {tuple(r) for r in conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}
        assert {("marts", m) for m in PUBLISHED_MARTS} | {("main", "meta")} <= tables
        assert conn.execute("SELECT DISTINCT tenant_id FROM marts.kpi_summary").fetchall() == [("tenant-b",)]
    assert not (tmp_path / "exports" / "b.duckdb.partial").exists()


def test_platform_marts_go_to_their_own_folder_only(build, tmp_path):
    published = tmp_path / "published"
    for mart in PLATFORM_MARTS:
        build.execute(f"CREATE TABLE marts.{mart} AS SELECT 'tenant-a' AS tenant_id, 'PLATFORM-ONLY' AS label")
    publish_tenants(build, published, as_of=AS_OF)
    first = publish_platform(build, published, as_of=AS_OF)
    second = publish_platform(build, published, as_of=AS_OF)
    operator = open_platform_snapshot(published)
    assert operator.version == second != first
    assert operator.query("SELECT label FROM platform_overview").rows() == [("PLATFORM-ONLY",)]
    assert operator.meta()["tenants"] == len(TENANTS)
    tenant = open_tenant_snapshot(published, "tenant-a")
    for mart in PLATFORM_MARTS:
        with pytest.raises(duckdb.Error):
            tenant.query(f"SELECT * FROM {mart}")
    assert "_platform" not in [p.name for p in published.iterdir() if not p.name.startswith("_")]


def test_reader_cannot_read_duckdb_temp_directory(build, tmp_path, monkeypatch):
    """DuckDB allows its temp (spill) directory even with external access off; readers have none."""
    published = tmp_path / "published"
    publish_tenants(build, published, as_of=AS_OF)
    cwd = tmp_path / "cwd"
    (cwd / ".tmp").mkdir(parents=True)
    monkeypatch.chdir(cwd)
    planted = cwd / ".tmp" / "f.csv"            # DuckDB's default temp directory is <cwd>/.tmp
    planted.write_text("secret\nCANARY-TMP\n")
    beside = tmp_path / "f.csv"                 # tmp_path lies in the system temp directory
    beside.write_text("secret\nCANARY-SYSTMP\n")
    snap = open_tenant_snapshot(published, "tenant-a")
    assert snap.query("SELECT current_setting('temp_directory') AS t")["t"][0] == ""
    for path in (".tmp/f.csv", "./.tmp/f.csv", str(planted), f"{snap.folder}/../../../cwd/.tmp/f.csv",
                 str(beside)):
        with pytest.raises(duckdb.PermissionException):
            snap.query(f"SELECT * FROM read_csv('{path}')")
        with pytest.raises(duckdb.PermissionException):
            snap.query("SELECT * FROM read_csv($p)", {"p": path})
    with pytest.raises((ReadOnlyViolation, duckdb.Error)):
        snap.query("SET temp_directory = '.tmp'")
    # normal reads still work, and nothing was spilled into the working directory
    assert snap.query("SELECT label FROM top_performers").rows() == [("alpha row",)]
    assert snap.query("SELECT count(*) AS n FROM kpi_summary WHERE amount > ?", [1])["n"][0] == 1
    assert sorted(p.name for p in (cwd / ".tmp").iterdir()) == ["f.csv"]


def test_each_tenant_gets_its_own_quarantined_rows_and_latest_runs(build, tmp_path, monkeypatch):
    """File-drop and operational quarantine with reasons, and ingestion runs with the file's name,
    into each tenant's own version only, newest first, bounded (tenant_total says how many)."""
    from ingestion.files.tables import ensure_file_tables
    from warehouse import publish
    from warehouse.reader import open_version_folder

    monkeypatch.setattr(publish, "QUARANTINE_LIMIT", 3)
    monkeypatch.setattr(publish, "RUNS_LIMIT", 2)
    ensure_file_tables(build)
    t0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
    for i in range(4):  # tenant-a: 4 bad rows of one file (row i+1), one minute apart
        build.execute("INSERT INTO quarantine VALUES ('tenant-a', 'bookings', 'tenant-a/bookings/june.csv', 'c1', ?, "
                      "'currency', ?, ?, ?, 'run-a1')", [i + 1, f"X{i}", f"currency 'X{i}' is not ISO 4217",
                                                        t0 + dt.timedelta(minutes=i)])
    build.execute("INSERT INTO quarantine VALUES ('tenant-b', 'artists', 'tenant-b/artists/x.csv', 'c9', 1, 'name', "
                  "'CANARY-B-VALUE', 'name is required', ?, 'run-b1')", [t0])
    build.execute("INSERT INTO operational_quarantine VALUES ('tenant-a', 'bookings', 'bk-1', 'currency', 'DKK', "
                  "'currency ''DKK'' has no FX rate', ?)", [t0 + dt.timedelta(hours=1)])
    for i, (tenant, name) in enumerate([("tenant-a", "june.csv"), ("tenant-a", "july.csv"), ("tenant-a", "aug.csv"),
                                        ("tenant-b", "CANARY-B-FILE.csv")]):
        build.execute("INSERT INTO ingestion_runs (run_id, source, tenant_id, entity, started_at, ended_at, rows_read, "
                      "rows_loaded, rows_quarantined, status, error, notes, checksum) VALUES "
                      "(?, 'file_drop', ?, 'bookings', ?, ?, 10, 6, 4, 'ok', NULL, NULL, ?)",
                      [f"run-{i}", tenant, t0 + dt.timedelta(days=i), t0 + dt.timedelta(days=i, seconds=5), f"sum{i}"])
        build.execute("INSERT INTO file_registry VALUES (?, 'bookings', ?, ?, ?, 100, 'ok', 10, 6, 4, NULL, ?, ?, NULL)",
                      [tenant, f"sum{i}", f"{tenant}/bookings/{name}", name, f"run-{i}", t0])
    build.execute("INSERT INTO ingestion_runs (run_id, source, tenant_id, entity, started_at, status) "
                  "VALUES ('run-x', 'file_drop', NULL, NULL, ?, 'rejected')", [t0])  # an unknown folder's file
    published = tmp_path / "published"
    result = publish_tenants(build, published, as_of=AS_OF)
    tables = (*PUBLISHED_MARTS, *PUBLISHED_QUALITY_TABLES, "meta")

    def read(tenant):
        snap = open_version_folder(tenant, result.version, published / tenant / result.version, tables=tables)
        try:
            return ([r for r in snap.query("SELECT * FROM quarantined_rows").iter_rows(named=True)],
                    [r for r in snap.query("SELECT * FROM ingestion_runs").iter_rows(named=True)])
        finally:
            snap.close()

    quarantined, runs = read("tenant-a")
    assert [(r["source"], r["record_id"] or r["row_number"], r["value"]) for r in quarantined] == [
        ("operational database", "bk-1", "DKK"), ("file drop", 4, "X3"), ("file drop", 3, "X2")]
    assert {r["tenant_total"] for r in quarantined} == {5} and {r["tenant_id"] for r in quarantined} == {"tenant-a"}
    assert quarantined[1]["reason"] == "currency 'X3' is not ISO 4217" and quarantined[1]["column"] == "currency"
    assert quarantined[1]["file"] == "tenant-a/bookings/june.csv" and quarantined[1]["run_id"] == "run-a1"
    assert [(r["run_id"], r["file_name"], r["rows_quarantined"], r["tenant_total"]) for r in runs] == [
        ("run-2", "aug.csv", 4, 3), ("run-1", "july.csv", 4, 3)]
    b_quarantined, b_runs = read("tenant-b")
    assert [r["value"] for r in b_quarantined] == ["CANARY-B-VALUE"] and [r["file_name"] for r in b_runs] == [
        "CANARY-B-FILE.csv"]
    everything = " ".join(str(v) for r in (*quarantined, *runs) for v in r.values())
    assert "CANARY" not in everything and "run-x" not in everything
    c_quarantined, c_runs = read("tenant-c")
    assert c_quarantined == [] and c_runs == []


def test_annotate_adds_files_before_the_pointer_names_the_version(build, tmp_path, caplog):
    published = tmp_path / "published"
    seen = {}

    def annotate(folder_root, tenant_id, version):
        seen[tenant_id] = current_version(folder_root, tenant_id)  # not yet the new version
        if tenant_id == "tenant-b":
            raise ValueError("cannot compose")
        (folder_root / tenant_id / version / "derived.bin").write_bytes(tenant_id.encode())

    result = publish_tenants(build, published, as_of=AS_OF, annotate=annotate)
    assert sorted(result.tenant_ids) == sorted(TENANTS) and set(seen) == set(TENANTS)
    assert all(previous is None for previous in seen.values())
    assert (published / "tenant-a" / result.version / "derived.bin").read_bytes() == b"tenant-a"
    assert not (published / "tenant-b" / result.version / "derived.bin").exists()
    assert current_version(published, "tenant-b") == result.version  # published without its derived files
    assert "tenant-b: version" in caplog.text and "cannot compose" in caplog.text
