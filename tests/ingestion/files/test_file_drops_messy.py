"""Messy inputs: every case gives a clear, tested outcome (one test per case)."""
from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from drops_support import BOOKING_HEADER, TENANT_A, TENANT_B, booking, csv_text

from ingestion.files import FileDropLimits


def _bookings(drops, rows, header=None, name="bookings.csv", newline="\n", tenant=TENANT_A):
    drops.artists(tenant)
    return drops.write(tenant, "bookings", name, csv_text(rows, header or BOOKING_HEADER, newline))


def _booking_result(drops, report):
    return next(f for f in report.files if f.entity == "bookings")


def test_utf8_bom_is_skipped_and_the_first_column_still_matches(drops):
    drops.artists()
    drops.write(TENANT_A, "bookings", "bom.csv", b"\xef\xbb\xbf" + csv_text([booking("b1")], BOOKING_HEADER).encode())
    result = _booking_result(drops, drops.run())
    assert (result.status, result.rows_loaded) == ("ok", 1)
    assert drops.rows("SELECT id FROM raw_files_bookings") == [("b1",)]


def test_crlf_line_endings_and_quoted_newlines(drops):
    rows = [booking("b1", notes="line one\r\nline two"), booking("b2")]
    _bookings(drops, rows, BOOKING_HEADER + ["notes"], newline="\r\n")
    result = _booking_result(drops, drops.run())
    assert (result.status, result.rows_read, result.rows_loaded) == ("ok", 2, 2)
    assert drops.rows("SELECT id, title, notes FROM raw_files_bookings ORDER BY id") == [
        ("b1", "Session b1", "line one\r\nline two"), ("b2", "Session b2", None)]


def test_utf16_file_is_rejected_with_a_hint(drops):
    drops.write(TENANT_A, "artists", "excel.csv", "id,name\r\na1,Alice\r\n".encode("utf-16"))
    result = drops.one(drops.run())
    assert result.status == "rejected" and "UTF-16" in result.error


def test_empty_file_is_rejected(drops):
    drops.write(TENANT_A, "bookings", "empty.csv", b"")
    result = drops.one(drops.run())
    assert (result.status, result.error) == ("rejected", "file is empty (0 bytes)")
    assert drops.rows("SELECT rows_read, rows_loaded, rows_quarantined, status FROM ingestion_runs") == [
        (0, 0, 0, "rejected")]


def test_header_only_file_is_ok_with_zero_rows(drops):
    drops.write(TENANT_A, "bookings", "header.csv", ",".join(BOOKING_HEADER) + "\n")
    result = drops.one(drops.run())
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("ok", 0, 0, 0)


def test_extra_columns_are_ignored_and_reported(drops):
    _bookings(drops, [booking("b1", internal_code="X-1", **{"Comment ": "hi"})],
              BOOKING_HEADER + ["internal_code", "Comment "])
    result = _booking_result(drops, drops.run())
    assert (result.status, result.rows_loaded) == ("ok", 1)
    assert "ignored extra columns: 'internal_code', 'Comment '" in result.notes
    runs = drops.rows("SELECT notes FROM ingestion_runs WHERE entity = 'bookings'")
    assert "internal_code" in runs[0][0]


def test_missing_optional_columns_are_null_or_model_defaults(drops):
    header = ["id", "artist_id", "title", "type", "status", "start_date", "end_date", "duration_minutes"]
    _bookings(drops, [booking("b1")], header)
    result = _booking_result(drops, drops.run())
    assert result.status == "ok"
    assert "location" in result.notes  # listed as not in the file
    row = drops.rows("SELECT location, budget, currency, timezone, priority, payment_status, is_remote, "
                     "requirements, deliverables, org_id, created_at FROM raw_files_bookings")[0]
    assert row[:10] == (None, None, "USD", "UTC", "MEDIUM", "PENDING", False, "{}", "[]", TENANT_A)
    assert row[10].isoformat().startswith("2026-06-30T12:00:00")  # load time


def test_missing_required_columns_reject_the_file(drops):
    header = [c for c in BOOKING_HEADER if c not in ("artist_id", "end_date")]
    _bookings(drops, [booking("b1")], header)
    result = _booking_result(drops, drops.run())
    assert result.status == "rejected"
    assert result.error.startswith("missing required columns: artist_id, end_date")
    assert drops.rows("SELECT count(*) FROM raw_files_bookings") == [(0,)]


def test_columns_match_by_header_name_reordered_and_case_insensitive(drops):
    header = list(reversed(BOOKING_HEADER))
    drops.artists()
    text = csv_text([booking("b1")], header).replace("artist_id", " Artist_ID ", 1)
    drops.write(TENANT_A, "bookings", "reordered.csv", text)
    result = _booking_result(drops, drops.run())
    assert (result.status, result.rows_loaded) == ("ok", 1)
    assert drops.rows("SELECT id, artist_id, title FROM raw_files_bookings") == [("b1", "art-1", "Session b1")]


def test_renamed_required_column_is_an_extra_and_rejects_the_file(drops):
    header = ["artist" if c == "artist_id" else c for c in BOOKING_HEADER]
    rows = [{("artist" if k == "artist_id" else k): v for k, v in booking("b1").items()}]
    _bookings(drops, rows, header)
    result = _booking_result(drops, drops.run())
    assert result.status == "rejected" and "artist_id" in result.error and "'artist'" in result.error


def test_wrong_types_quarantine_the_row_with_a_reason(drops):
    rows = [booking("b1"), booking("b2", duration_minutes="two hours", start_date="tomorrow", budget="12,50",
                                  final_price="1.999")]
    _bookings(drops, rows)
    result = _booking_result(drops, drops.run())
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    assert set(drops.reasons()) == {
        "duration_minutes 'two hours' is not a whole number",
        "start_date 'tomorrow' is not a timestamp (ISO 8601, e.g. 2026-05-01T14:00:00Z)",
        "budget '12,50' is not a number with at most 16 digits before the decimal point",
        "final_price '1.999' has more than 2 decimal places",
    }
    assert {row[0] for row in drops.quarantine()} == {2}


def test_enum_currency_timezone_dates_and_money_rules(drops):
    rows = [booking("b1", status="DONE", currency="EURO", timezone="Mars/Olympus", budget="-5",
                    end_date="2026-05-01T09:00:00Z"),
            booking("b2", currency="eur"),
            booking("b3", title="")]
    _bookings(drops, rows)
    result = _booking_result(drops, drops.run())
    assert (result.rows_loaded, result.rows_quarantined) == (0, 3)
    reasons = drops.reasons()
    assert "currency 'EURO' is not an ISO 4217 code" in reasons
    assert "currency 'eur' is not an ISO 4217 code" in reasons
    assert "timezone 'Mars/Olympus' is not an IANA time zone" in reasons
    assert "budget -5.00 is negative" in reasons
    assert "end_date 2026-05-01T09:00:00Z is not after start_date 2026-05-01T10:00:00Z" in reasons
    assert any(r.startswith("status 'DONE' is not one of DRAFT, PENDING_APPROVAL") for r in reasons)
    assert "title is required but empty" in reasons


def test_duplicate_keys_in_one_file_keep_the_last_occurrence(drops):
    rows = [booking("b1", title="first"), booking("b2"), booking("b1", title="second"), booking("b1", title="last")]
    _bookings(drops, rows)
    result = _booking_result(drops, drops.run())
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    assert drops.rows("SELECT id, title, _row_number FROM raw_files_bookings ORDER BY id") == [
        ("b1", "last", 4), ("b2", "Session b2", 2)]
    assert drops.quarantine() == [
        (1, "id", "b1", "duplicate id 'b1' in this file: superseded by row 4"),
        (3, "id", "b1", "duplicate id 'b1' in this file: superseded by row 4"),
    ]


def test_rows_of_another_tenant_are_quarantined(drops):
    rows = [booking("b1") | {"org_id": TENANT_A}, booking("b2") | {"org_id": TENANT_B}, booking("b3") | {"org_id": ""}]
    _bookings(drops, rows, BOOKING_HEADER + ["org_id"])
    result = _booking_result(drops, drops.run())
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert drops.quarantine() == [
        (2, "org_id", TENANT_B, f"org_id '{TENANT_B}' is not the tenant of this folder (acme)")]
    assert drops.rows("SELECT DISTINCT org_id FROM raw_files_bookings") == [(TENANT_A,)]


def test_formula_like_strings_are_kept_verbatim(drops):
    formulas = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A2)", "=1+2"]
    rows = [booking(f"b{i}", title=text, notes=text) for i, text in enumerate(formulas)]
    _bookings(drops, rows, BOOKING_HEADER + ["notes"])
    result = _booking_result(drops, drops.run())
    assert (result.rows_loaded, result.rows_quarantined) == (5, 0)
    assert sorted(drops.rows("SELECT title, notes FROM raw_files_bookings")) == sorted((f, f) for f in formulas)


def test_file_over_the_size_limit_is_rejected_unread(drops):
    _bookings(drops, [booking(f"b{i}") for i in range(50)])
    report = drops.run(limits=FileDropLimits(max_file_bytes=1000))
    result = _booking_result(drops, report)
    assert result.status == "rejected" and "the limit is 1,000 bytes" in result.error
    assert result.checksum is None and "__unhashed__bookings.csv" in result.archived_to.name
    assert drops.rows("SELECT count(*) FROM raw_files_bookings") == [(0,)]


def test_field_over_its_length_limit_quarantines_the_row(drops):
    rows = [booking("b1", title="x" * 201), booking("b2", notes="n" * 5000), booking("b3")]
    _bookings(drops, rows, BOOKING_HEADER + ["notes"])
    result = _booking_result(drops, drops.run(limits=FileDropLimits(max_field_chars=4000)))
    assert (result.rows_loaded, result.rows_quarantined) == (1, 2)
    quarantine = drops.quarantine()
    assert quarantine[0][1:2] == ("title",) and quarantine[0][3] == "title is 201 characters long; the limit is 200"
    assert quarantine[1][3] == "notes is 5000 characters long; the limit is 4000"
    assert len(quarantine[1][2]) == 1001 and quarantine[1][2].endswith("…")  # stored value is cut


def test_malformed_csv_row_rejects_the_file_without_partial_load(drops):
    text = csv_text([booking(f"b{i}") for i in range(20)], BOOKING_HEADER)
    text += "b99,art-1,too,many,fields" + ",x" * 20 + "\n"
    drops.artists()
    drops.write(TENANT_A, "bookings", "ragged.csv", text)
    result = _booking_result(drops, drops.run())
    assert result.status == "rejected"
    assert result.error.startswith("not a readable CSV file: CSV Error on Line: 22")
    assert "Expected Number of Columns: 12" in result.error and "auditoryx-drops" not in result.error
    assert drops.rows("SELECT count(*) FROM raw_files_bookings") == [(0,)]
    assert drops.rows("SELECT count(*) FROM quarantine") == [(0,)]


def test_semicolon_delimited_csv_is_read(drops):
    drops.artists()
    text = csv_text([booking("b1", title="A, with comma")], BOOKING_HEADER).replace(",", ";")
    text = text.replace("A; with comma", "A, with comma")
    drops.write(TENANT_A, "bookings", "semi.csv", text)
    result = _booking_result(drops, drops.run())
    assert (result.status, result.rows_loaded) == ("ok", 1)
    assert drops.rows("SELECT title FROM raw_files_bookings") == [("A, with comma",)]


def test_json_array_and_newline_delimited_json(drops):
    drops.artists()
    records = [booking("b1") | {"duration_minutes": 120, "budget": 100.5, "is_remote": True,
                                "requirements": {"mics": 2}, "deliverables": ["stems"]},
               booking("b2") | {"duration_minutes": "x"}]
    drops.write(TENANT_A, "bookings", "array.json", json.dumps(records))
    drops.write(TENANT_A, "bookings", "lines.jsonl", "\n".join(json.dumps(booking(f"n{i}")) for i in range(3)) + "\n")
    report = drops.run()
    results = {f.source: f for f in report.files}
    array = results[f"file:{TENANT_A}/bookings/array.json"]
    assert (array.status, array.rows_loaded, array.rows_quarantined) == ("ok", 1, 1)
    assert results[f"file:{TENANT_A}/bookings/lines.jsonl"].rows_loaded == 3
    assert drops.rows("SELECT budget, is_remote, requirements, deliverables FROM raw_files_bookings "
                      "WHERE id = 'b1'") == [
        (Decimal("100.50"), True, '{"mics":2}', '["stems"]')]


def test_json_with_bom_and_non_record_json(drops):
    drops.write(TENANT_A, "artists", "bom.json", b"\xef\xbb\xbf" + json.dumps([{"id": "a1", "name": "A"}]).encode())
    drops.write(TENANT_A, "artists", "scalars.json", b"[1, 2, 3]")
    drops.write(TENANT_A, "artists", "empty.json", b"[]")
    results = {f.source.rsplit("/", 1)[1]: f for f in drops.run().files}
    assert (results["bom.json"].status, results["bom.json"].rows_loaded) == ("ok", 1)
    assert results["scalars.json"].status == "rejected" and "array of objects" in results["scalars.json"].error
    assert (results["empty.json"].status, results["empty.json"].rows_read) == ("ok", 0)


def test_parquet_typed_columns_and_broken_parquet(drops):
    drops.artists()
    table = pa.table({
        "id": ["p1", "p2"], "artist_id": ["art-1", "art-1"], "title": ["Mix", "Master"],
        "type": ["MIXING", "MASTERING"], "status": ["CONFIRMED", "DRAFT"],
        "start_date": pa.array([0, 0], pa.int64()).cast(pa.timestamp("s", tz="UTC")),
        "end_date": pa.array([3600, 0], pa.int64()).cast(pa.timestamp("s", tz="UTC")),
        "duration_minutes": pa.array([60, 60], pa.int32()),
        "budget": pa.array([12.5, 3.0]),
        "deliverables": [["mix.wav"], []],
    })
    drops.write(TENANT_A, "bookings", "broken.parquet", b"PAR1 not really parquet")
    pq.write_table(table, drops.landing / TENANT_A / "bookings" / "typed.parquet")
    results = {f.source.rsplit("/", 1)[1]: f for f in drops.run().files}
    typed = results["typed.parquet"]
    assert (typed.status, typed.rows_loaded, typed.rows_quarantined) == ("ok", 1, 1)  # p2 ends before it starts
    assert drops.rows("SELECT id, budget, deliverables, start_date < end_date FROM raw_files_bookings") == [
        ("p1", Decimal("12.50"), '["mix.wav"]', True)]
    broken = results["broken.parquet"]
    assert broken.status == "rejected" and "Parquet" in broken.error


def test_unknown_tenant_entity_and_file_type_are_rejected_not_crashing(drops):
    unknown = "(landing folders are named by tenant id: see `auditoryx landing`)"
    drops.write("nobody", "bookings", "x.csv", "id\n1\n")
    drops.write("acme", "bookings", "x.csv", "id\n1\n")  # tenant A's slug: folders are named by id
    drops.write("-bad id", "bookings", "x.csv", "id\n1\n")
    drops.write(TENANT_A, "invoices", "x.csv", "id\n1\n")
    drops.write(TENANT_A, "bookings", "x.xlsx", b"PK\x03\x04")
    (drops.landing / "loose.csv").write_text("id\n1\n")
    report = drops.run()
    errors = {f.source: (f.status, f.error) for f in report.files}
    assert errors == {
        "file:nobody/bookings/x.csv": ("rejected", f"unknown tenant 'nobody' {unknown}"),
        "file:acme/bookings/x.csv": ("rejected", f"unknown tenant 'acme' {unknown}"),
        "file:-bad id/bookings/x.csv": ("rejected", "folder '-bad id' is not a valid tenant id"),
        f"file:{TENANT_A}/invoices/x.csv": ("rejected", "unknown entity folder 'invoices' (expected one of "
                                                        "artists, projects, project_milestones, bookings)"),
        f"file:{TENANT_A}/bookings/x.xlsx": ("rejected",
                                             "unsupported file type '.xlsx' (expected .csv, .parquet or .json)"),
        "file:loose.csv": ("rejected", "files must be placed in <tenant id>/<entity>/ (entities: artists, "
                                       "projects, project_milestones, bookings); found 'loose.csv'"),
    }
    assert {f.source: f.tenant_id for f in report.files if f.tenant_id} == {
        f"file:{TENANT_A}/invoices/x.csv": TENANT_A, f"file:{TENANT_A}/bookings/x.xlsx": TENANT_A}
    assert not [p for p in drops.landing.rglob("*") if p.is_file()]  # all moved to the archive
    assert (drops.archive / "nobody" / "bookings").is_dir() and (drops.archive / "acme" / "bookings").is_dir()
    assert drops.rows("SELECT count(*) FROM file_registry WHERE status = 'ok'") == [(0,)]


def test_uploads_in_progress_and_symlinks(drops, tmp_path):
    drops.write(TENANT_A, "artists", "big.csv.part", "id,name\na1,A\n")
    drops.write(TENANT_A, "artists", ".hidden.csv", "id,name\na1,A\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("id,name\na9,Secret\n")
    (drops.landing / TENANT_A / "artists" / "link.csv").symlink_to(secret)
    report = drops.run()
    assert sorted(report.waiting) == [f"{TENANT_A}/artists/.hidden.csv", f"{TENANT_A}/artists/big.csv.part"]
    result = drops.one(report)
    assert result.status == "rejected" and "symbolic links" in result.error
    assert secret.exists() and drops.rows("SELECT count(*) FROM raw_files_artists") == [(0,)]
    assert (drops.landing / TENANT_A / "artists" / "big.csv.part").exists()


def test_project_rules_follow_the_model(drops):
    rows = [{"id": "p1", "name": "Same day", "type": "SINGLE", "status": "PLANNING",
             "start_date": "2026-05-01", "end_date": "2026-05-01", "spent": "0", "currency": "JPY",
             "client_email": "label@example.com"},
            {"id": "p2", "name": "Backwards", "type": "SINGLE", "status": "PLANNING",
             "start_date": "2026-05-02", "end_date": "2026-05-01", "spent": "-1", "currency": "USD",
             "client_email": "not-an-email"},
            {"id": "p3", "name": "Bad date", "type": "MIXTAPE", "status": "PLANNING",
             "start_date": "2026-02-30", "end_date": "", "spent": "", "currency": ""}]
    drops.write(TENANT_A, "projects", "p.csv", csv_text(rows))
    result = drops.one(drops.run())
    assert (result.rows_loaded, result.rows_quarantined) == (1, 2)
    assert drops.rows("SELECT id, spent, currency, priority FROM raw_files_projects") == [
        ("p1", Decimal("0.00"), "JPY", "MEDIUM")]
    assert set(drops.reasons()) == {
        "end_date 2026-05-01 is before start_date 2026-05-02", "spent -1.00 is negative",
        "type 'MIXTAPE' is not one of ALBUM, SINGLE, EP, PODCAST_SERIES, COMMERCIAL, FILM_SCORE, GAME_AUDIO, OTHER",
        "start_date '2026-02-30' is not a date (YYYY-MM-DD)",
        "client_email 'not-an-email' is not a valid email address"}
