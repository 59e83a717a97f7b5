"""The file-drop journal (<archive>/file_registry.jsonl) outside the build database: a new build
database replays the archived files in their original order with their batch times; a kill
between the commit and the move never leaves the registry naming a missing archive file."""
from __future__ import annotations

import datetime as dt

import pytest
from drops_support import BOOKING_HEADER, NOW, TENANT_A, TENANTS, booking, csv_text

from ingestion.files import ingest_file_drops
from ingestion.files.ingest import _Ingestion, tenants_to_replay
from ingestion.files.journal import JournalEntry, append_entries, journal_path, parse_lines, read_journal
from warehouse.build_db import connect_build

LATER = NOW + dt.timedelta(hours=1)


def test_parse_lines_skips_a_cut_line_and_keeps_the_first_entry():
    entry = JournalEntry("t", "bookings", "c1", "t/bookings/a.csv", "t/bookings/x__a.csv", "ok", None,
                         "2026-06-30T12:00:00.000000+00:00", 10)
    import json
    from dataclasses import asdict
    line = json.dumps(asdict(entry))
    again = json.dumps({**asdict(entry), "archived_to": "elsewhere"})
    assert parse_lines([line, "", again, line[:20]]) == [entry]


def test_a_new_build_database_replays_the_archive_in_order(drops, tmp_path):
    drops.artists()
    drops.write(TENANT_A, "bookings", "a.csv", csv_text([booking("b1"), booking("b2", currency="DKK")], BOOKING_HEADER))
    drops.run()
    drops.write(TENANT_A, "bookings", "b.csv", csv_text([booking("b1", final_price="12.00")], BOOKING_HEADER))
    drops.run(now=LATER)
    first = drops.snapshot()
    journal = read_journal(drops.archive)
    assert [(e.file, e.batch_datetime) for e in journal] == [
        (f"{TENANT_A}/artists/artists.csv", NOW), (f"{TENANT_A}/bookings/a.csv", NOW), (f"{TENANT_A}/bookings/b.csv", LATER)]

    fresh = connect_build(tmp_path / "rebuilt.duckdb")
    try:
        assert tenants_to_replay(fresh, drops.archive) == [TENANT_A]
        report = ingest_file_drops(fresh, drops.landing, drops.archive, TENANTS, now=LATER + dt.timedelta(days=1))
        assert [f.source for f in report.replayed] == [f"file:{e.file}" for e in journal] and not report.files
        tables = ["raw_files_artists", "raw_files_bookings"]
        for table in tables:
            assert fresh.execute(f"SELECT * EXCLUDE (_loaded_at) FROM {table} ORDER BY ALL").fetchall() == \
                drops.rows(f"SELECT * EXCLUDE (_loaded_at) FROM {table} ORDER BY ALL")
            assert fresh.execute(f"SELECT _loaded_at FROM {table} ORDER BY ALL").fetchall() == \
                drops.rows(f"SELECT _loaded_at FROM {table} ORDER BY ALL")
        assert fresh.execute('SELECT row_number, "column", value, reason FROM quarantine ORDER BY ALL').fetchall() == \
            drops.quarantine()
        assert fresh.execute("SELECT tenant_id, entity, checksum, archived_to FROM file_registry ORDER BY ALL").fetchall() \
            == drops.rows("SELECT tenant_id, entity, checksum, archived_to FROM file_registry ORDER BY ALL")
        assert tenants_to_replay(fresh, drops.archive) == []
        again = ingest_file_drops(fresh, drops.landing, drops.archive, TENANTS)
        assert not again.replayed and read_journal(drops.archive) == journal
    finally:
        fresh.close()
    assert drops.snapshot() == first


def test_a_kill_between_commit_and_move_is_repaired(drops, monkeypatch):
    drops.artists()

    def killed(source, target):
        raise KeyboardInterrupt("kill -9")

    monkeypatch.setattr(_Ingestion, "_move", staticmethod(killed))
    with pytest.raises(KeyboardInterrupt):
        drops.run()
    monkeypatch.undo()
    (archived,) = drops.rows("SELECT archived_to FROM file_registry")[0]
    assert not (drops.archive / archived).exists() and not journal_path(drops.archive).exists()

    report = drops.run(now=LATER)  # the file is still in the landing folder: a duplicate
    assert [f.status for f in report.files] == ["skipped_duplicate"]
    (archived,) = drops.rows("SELECT archived_to FROM file_registry")[0]
    assert (drops.archive / archived).is_file()
    assert [(e.archived_to, e.batch_datetime) for e in read_journal(drops.archive)] == [(archived, NOW)]


def test_registered_files_missing_from_the_journal_are_added(drops):
    drops.artists()
    drops.run()
    journal_path(drops.archive).unlink()  # a kill after the move, before the journal line
    append_entries(drops.archive, [])
    drops.run(now=LATER)
    assert [e.file for e in read_journal(drops.archive)] == [f"{TENANT_A}/artists/artists.csv"]


def test_a_killed_file_that_left_the_landing_folder_names_no_archive_file(drops, monkeypatch):
    path = drops.artists()

    def killed(source, target):
        raise KeyboardInterrupt("kill -9")

    monkeypatch.setattr(_Ingestion, "_move", staticmethod(killed))
    with pytest.raises(KeyboardInterrupt):
        drops.run()
    monkeypatch.undo()
    path.unlink()  # the tenant removed its upload meanwhile
    drops.run(now=LATER)
    assert drops.rows("SELECT archived_to FROM file_registry") == [(None,)]
