"""Registry, archive, reconciliation, idempotency, isolation, atomicity of file drops."""
from __future__ import annotations

import datetime as dt

import pytest
from drops_support import BOOKING_HEADER, NOW, TENANT_A, TENANT_B, TENANTS, booking, csv_text

import ingestion.files.ingest as ingest_module
from auditoryx.errors import AuditoryxError
from ingestion.files import ensure_file_tables, ingest_file_drops, landing_folder


def _drop_batch(drops):
    drops.artists(TENANT_A)
    drops.write(TENANT_A, "bookings", "week1.csv",
                csv_text([booking("b1"), booking("b2", currency="EURO"), booking("b3", artist_id="ghost")],
                         BOOKING_HEADER))
    drops.write(TENANT_A, "projects", "projects.json",
                '[{"id": "p1", "name": "LP", "type": "ALBUM", "status": "PLANNING", "budget": "10.00"}]')
    drops.write(TENANT_A, "project_milestones", "ms.csv", "id,project_id,title,status\nm1,p1,Mixdown,PENDING\n")
    drops.write(TENANT_B, "bookings", "empty.csv", b"")


def test_same_file_again_is_a_no_op_but_still_archived(drops):
    content = csv_text([{"id": "a1", "name": "A"}])
    drops.write(TENANT_A, "artists", "a.csv", content)
    first = drops.one(drops.run())
    before = drops.snapshot()
    drops.write(TENANT_A, "artists", "renamed-copy.csv", content)  # same bytes, another name
    again = drops.one(drops.run(now=NOW + dt.timedelta(hours=1)))
    assert (first.status, again.status) == ("ok", "skipped_duplicate")
    assert again.checksum == first.checksum
    assert f"same content as {TENANT_A}/artists/a.csv" in again.notes
    assert drops.snapshot() == before
    assert again.archived_to.exists() and not (drops.landing / TENANT_A / "artists" / "renamed-copy.csv").exists()
    assert drops.rows("SELECT status FROM ingestion_runs ORDER BY started_at") == [("ok",), ("skipped_duplicate",)]


def test_changed_file_with_the_same_name_is_processed_again(drops):
    drops.write(TENANT_A, "artists", "a.csv", csv_text([{"id": "a1", "name": "Old"}, {"id": "a2", "name": "Two"}]))
    drops.run()
    drops.write(TENANT_A, "artists", "a.csv", csv_text([{"id": "a1", "name": "New"}, {"id": "a3", "name": "Three"}]))
    second = drops.one(drops.run(now=NOW + dt.timedelta(days=1)))
    assert (second.status, second.rows_loaded) == ("ok", 2)
    # upsert by id: a1 replaced, a2 kept (a drop never deletes), a3 added
    assert drops.rows("SELECT id, name, _loaded_at = $now FROM raw_files_artists ORDER BY id",
                      {"now": NOW + dt.timedelta(days=1)}) == [("a1", "New", True), ("a2", "Two", False),
                                                               ("a3", "Three", True)]
    assert drops.rows("SELECT count(*) FROM file_registry") == [(2,)]


def test_processed_files_are_moved_to_the_archive_with_timestamp_and_checksum(drops):
    drops.write(TENANT_A, "artists", "a.csv", csv_text([{"id": "a1", "name": "A"}]))
    drops.write(TENANT_A, "bookings", "bad.csv", b"")
    report = drops.run()
    ok, rejected = sorted(report.files, key=lambda f: f.status)
    assert ok.archived_to == drops.archive / TENANT_A / "artists" / f"20260630T120000Z__{ok.checksum[:8]}__a.csv"
    assert rejected.archived_to.parent == drops.archive / TENANT_A / "bookings"
    assert ok.archived_to.read_text().startswith("id,name")
    assert not [p for p in drops.landing.rglob("*") if p.is_file()]
    assert drops.rows("SELECT archived_to FROM file_registry WHERE status = 'ok'") == [
        (f"{TENANT_A}/artists/20260630T120000Z__{ok.checksum[:8]}__a.csv",)]
    # the same name and content again at the same instant never overwrites an archived file
    drops.write(TENANT_A, "artists", "a.csv", csv_text([{"id": "a1", "name": "A"}]))
    again = drops.one(drops.run())
    assert again.archived_to.name == f"20260630T120000Z-2__{ok.checksum[:8]}__a.csv"
    assert ok.archived_to.exists()


def test_reconciliation_rows_read_equal_loaded_plus_quarantined(drops):
    _drop_batch(drops)
    report = drops.run()
    runs = drops.rows("SELECT source, status, rows_read, rows_loaded, rows_quarantined "
                      "FROM ingestion_runs ORDER BY source")
    assert all(read == loaded + quarantined for _, _, read, loaded, quarantined in runs)
    assert [r for r in runs if r[0] == f"file:{TENANT_A}/bookings/week1.csv"] == [
        (f"file:{TENANT_A}/bookings/week1.csv", "ok", 3, 1, 2)]
    assert drops.rows("SELECT count(DISTINCT row_number) FROM quarantine "
                      "WHERE file = $f", {"f": f"{TENANT_A}/bookings/week1.csv"}) == [(2,)]
    assert drops.rows("SELECT count(*) FROM raw_files_bookings") == [(1,)]
    assert report.rows_read == report.rows_loaded + report.rows_quarantined
    assert report.tenants_changed == [TENANT_A]


def test_three_identical_ingestions_give_identical_tables(drops):
    snapshots = []
    for attempt in range(3):
        _drop_batch(drops)
        report = drops.run(now=NOW + dt.timedelta(minutes=attempt))
        if attempt:
            assert {f.status for f in report.files} == {"skipped_duplicate"}
        snapshots.append(drops.snapshot())
    assert snapshots[0] == snapshots[1] == snapshots[2]
    statuses = drops.rows("SELECT status, count(*) FROM ingestion_runs GROUP BY 1 ORDER BY 1")
    assert statuses == [("ok", 4), ("rejected", 1), ("skipped_duplicate", 10)]
    assert len([p for p in drops.archive.rglob("*") if p.is_file() and p.name != "file_registry.jsonl"]) == 15
    assert len((drops.archive / "file_registry.jsonl").read_text().splitlines()) == 5  # the registered files


def test_same_batch_references_and_unknown_references(drops):
    _drop_batch(drops)
    drops.run()
    assert drops.rows("SELECT id, project_id FROM raw_files_project_milestones") == [("m1", "p1")]
    assert "artist_id 'ghost' is not a known artist of this tenant" in drops.reasons()


def test_references_known_from_the_operational_raw_tables(drops):
    ensure_file_tables(drops.conn)
    drops.conn.execute("INSERT INTO raw_artists (id, org_id, name) VALUES ('op-art', $a, 'From the DB'), "
                       "('b-art', $b, 'Tenant B artist')", {"a": TENANT_A, "b": TENANT_B})
    drops.write(TENANT_A, "bookings", "b.csv",
                csv_text([booking("b1", artist_id="op-art"), booking("b2", artist_id="b-art")], BOOKING_HEADER))
    result = drops.one(drops.run())
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert drops.reasons() == ["artist_id 'b-art' is not a known artist of this tenant"]


def test_two_tenants_are_isolated(drops):
    drops.artists(TENANT_A, ids=["art-1"])
    drops.artists(TENANT_B, ids=["art-b"])
    drops.write(TENANT_B, "bookings", "b.csv", csv_text([booking("shared-b", artist_id="art-b")], BOOKING_HEADER))
    drops.run()
    beta_before = drops.rows("SELECT * FROM raw_files_bookings WHERE org_id = $b ORDER BY ALL", {"b": TENANT_B})
    rows = [booking("a1") | {"org_id": TENANT_B},          # B's tenant id in A's folder
            booking("shared-b", title="hijack"),           # an id that belongs to B
            booking("a2", artist_id="art-b"),              # B's artist
            booking("a3")]
    drops.write(TENANT_A, "bookings", "a.csv", csv_text(rows, BOOKING_HEADER + ["org_id"]))
    result = drops.one(drops.run(now=NOW + dt.timedelta(hours=1)))
    assert (result.rows_loaded, result.rows_quarantined) == (1, 3)
    assert set(drops.reasons()) == {
        f"org_id '{TENANT_B}' is not the tenant of this folder (acme)",
        "id 'shared-b' already belongs to another tenant",
        "artist_id 'art-b' is not a known artist of this tenant",
    }
    assert drops.rows("SELECT * FROM raw_files_bookings WHERE org_id = $b ORDER BY ALL", {"b": TENANT_B}) == beta_before
    assert drops.rows("SELECT id, org_id FROM raw_files_bookings WHERE org_id = $a",
                      {"a": TENANT_A}) == [("a3", TENANT_A)]
    assert drops.rows("SELECT DISTINCT tenant_id FROM quarantine") == [(TENANT_A,)]


def test_an_unexpected_failure_rolls_back_and_leaves_the_file_for_the_next_run(drops, monkeypatch):
    drops.artists()
    path = drops.write(TENANT_A, "bookings", "b.csv", csv_text([booking("b1")], BOOKING_HEADER))
    original = ingest_module.validate_and_load

    def failing(conn, spec, **kwargs):
        counts = original(conn, spec, **kwargs)  # rows written inside the transaction...
        if spec.entity == "bookings":
            raise RuntimeError("disk on fire")  # ...then a failure before commit
        return counts

    monkeypatch.setattr(ingest_module, "validate_and_load", failing)
    report = drops.run()
    failed = next(f for f in report.files if f.entity == "bookings")
    assert failed.status == "error" and "disk on fire" in failed.error and report.has_errors
    assert path.exists()
    assert drops.rows("SELECT count(*) FROM raw_files_bookings") == [(0,)]
    assert drops.rows("SELECT count(*) FROM file_registry WHERE entity = 'bookings'") == [(0,)]
    assert drops.rows("SELECT status FROM ingestion_runs WHERE entity = 'bookings'") == [("error",)]
    monkeypatch.setattr(ingest_module, "validate_and_load", original)
    retried = drops.one(drops.run())
    assert (retried.status, retried.rows_loaded) == ("ok", 1)


def test_missing_landing_folder_and_session_settings_are_restored(tmp_path, drops):
    drops.conn.execute("SET TimeZone = 'America/New_York'")
    report = ingest_file_drops(drops.conn, tmp_path / "nowhere", tmp_path / "archive", TENANTS, now=NOW)
    assert report.files == []
    drops.artists()
    drops.run()
    assert drops.rows("SELECT current_setting('TimeZone')") == [("America/New_York",)]
    assert drops.rows("SELECT count(*) FROM duckdb_tables() WHERE temporary") == [(0,)]


def test_folders_are_named_by_tenant_id_so_a_reused_slug_gets_nothing_left_behind(drops):
    """Tenant A ("acme") is deleted and a new tenant takes the slug "acme": what A left in its
    folder, and anything in a folder named by the slug, is an unknown tenant, never the new one's."""
    newcomer = "0c6f1e2d-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
    assert landing_folder(drops.landing, TENANT_A) == drops.landing / TENANT_A
    drops.artists(TENANT_A, ids=["left-a"], name="left-behind.csv")
    drops.write("acme", "artists", "by-slug.csv", csv_text([{"id": "slug-a", "name": "By slug"}]))
    drops.artists(newcomer, ids=["new-1"])
    report = ingest_file_drops(drops.conn, drops.landing, drops.archive, {newcomer: "acme", TENANT_B: "beta"},
                               now=NOW)
    outcome = {f.source: (f.status, f.tenant_id, f.tenant_slug) for f in report.files}
    assert outcome == {
        f"file:{TENANT_A}/artists/left-behind.csv": ("rejected", None, None),
        "file:acme/artists/by-slug.csv": ("rejected", None, None),
        f"file:{newcomer}/artists/artists.csv": ("ok", newcomer, "acme"),
    }
    assert all("unknown tenant" in f.error for f in report.with_status("rejected"))
    assert drops.rows("SELECT org_id, id FROM raw_files_artists ORDER BY ALL") == [(newcomer, "new-1")]
    assert report.tenants_changed == [newcomer]
    archived = {f.source: f.archived_to for f in report.files}
    assert archived[f"file:{TENANT_A}/artists/left-behind.csv"].parent == drops.archive / TENANT_A / "artists"
    assert archived[f"file:{newcomer}/artists/artists.csv"].parent == drops.archive / newcomer / "artists"


def test_tenant_ids_are_validated_before_they_become_folders(drops, tmp_path):
    for bad in ("../etc", "", "a/b", ".hidden"):
        with pytest.raises(AuditoryxError):
            landing_folder(drops.landing, bad)
        with pytest.raises(AuditoryxError):
            ingest_file_drops(drops.conn, drops.landing, drops.archive, {bad: "acme"}, now=NOW)


def test_naive_now_is_refused(drops):
    with pytest.raises(ValueError):
        drops.run(now=dt.datetime(2026, 1, 1))


def test_row_numbers_follow_the_file_on_a_larger_file(drops):
    rows = [booking(f"b{i:06d}", title=str(i + 1)) for i in range(60_000)]
    drops.artists()
    drops.write(TENANT_A, "bookings", "big.csv", csv_text(rows, BOOKING_HEADER))
    result = next(f for f in drops.run().files if f.entity == "bookings")
    assert result.rows_loaded == 60_000
    assert drops.rows("SELECT count(*) FROM raw_files_bookings WHERE CAST(title AS BIGINT) <> _row_number") == [(0,)]
