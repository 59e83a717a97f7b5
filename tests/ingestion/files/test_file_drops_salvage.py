"""Row-level salvage of CSV drops: records the reader cannot use are quarantined, the rest load.

A byte that is not UTF-8, or a quoted field left open at the end of the file, costs only its own
record; structural problems (header, file type, UTF-16, a record with the wrong number of fields)
still reject the whole file. Every file stays reconciled: read = loaded + quarantined.
"""
from __future__ import annotations

from drops_support import BOOKING_HEADER, TENANT_A, booking, csv_text


def _bookings_result(drops, report):
    return next(f for f in report.files if f.entity == "bookings")


def _reconciled(drops, result) -> None:
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    run = drops.rows("SELECT rows_read, rows_loaded, rows_quarantined, status FROM ingestion_runs "
                     "WHERE entity = 'bookings'")
    registry = drops.rows("SELECT rows_read, rows_loaded, rows_quarantined, status FROM file_registry "
                          "WHERE entity = 'bookings'")
    expected = (result.rows_read, result.rows_loaded, result.rows_quarantined, result.status)
    assert run == [expected] and registry == [expected]
    assert drops.rows("SELECT count(DISTINCT row_number) FROM quarantine WHERE entity = 'bookings'") == [
        (result.rows_quarantined,)]


def test_a_non_utf8_byte_quarantines_only_its_row(drops):
    drops.artists()
    content = (csv_text([booking("b1")], BOOKING_HEADER).encode()
               + csv_text([booking("b2", title="Café")], BOOKING_HEADER).split("\n", 1)[1].encode("latin-1")
               + csv_text([booking("b3")], BOOKING_HEADER).split("\n", 1)[1].encode())
    drops.write(TENANT_A, "bookings", "latin1.csv", content)
    result = _bookings_result(drops, drops.run())
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("ok", 3, 2, 1)
    _reconciled(drops, result)
    offset = content.index(b"\xe9")
    assert drops.quarantine() == [(2, "title", "Caf\ufffd", (
        f"not valid UTF-8 (byte 0xe9 at offset {offset}; Latin-1/Windows-1252 exports look like this): "
        "save the file as UTF-8"))]
    assert drops.rows("SELECT id, _row_number FROM raw_files_bookings ORDER BY id") == [("b1", 1), ("b3", 3)]
    assert drops.rows("SELECT file FROM quarantine") == [(f"{TENANT_A}/bookings/latin1.csv",)]


def test_an_unterminated_quote_on_the_last_line_quarantines_only_that_row(drops):
    drops.artists()
    good = csv_text([booking("b1"), booking("b2"), booking("b3")], BOOKING_HEADER)
    for name, last in (("newline.csv", '\n'), ("no-newline.csv", "")):
        broken = (f'b4,art-1,"Session b4 never closed,RECORDING_SESSION,CONFIRMED,2026-05-01T10:00:00Z,'
                  f'2026-05-01T12:00:00Z,120,EUR,Europe/Paris,100.00,90.50{last}')
        drops.write(TENANT_A, "bookings", name, good + broken)
    report = drops.run()
    results = [f for f in report.files if f.entity == "bookings"]
    assert [(r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) for r in results] == [("ok", 4, 3, 1)] * 2
    for result in results:
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
    quarantine = drops.quarantine()
    assert [(q[0], q[1]) for q in quarantine] == [(4, "title"), (4, "title")]
    assert all(q[3] == "unterminated quoted field: a quote opened in title is never closed before the end "
               "of the file" for q in quarantine)
    assert all(q[2].startswith('b4,art-1,"Session b4 never closed') for q in quarantine)
    assert drops.rows("SELECT id FROM raw_files_bookings ORDER BY id") == [("b1",), ("b2",), ("b3",)]
    assert drops.rows("SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM ingestion_runs "
                      "WHERE entity = 'bookings'") == [(8, 6, 2)]


def test_salvaged_rows_still_get_every_validation_rule_and_their_file_row_numbers(drops):
    drops.artists()
    header = BOOKING_HEADER + ["notes"]
    rows = [booking("b1", notes="two\r\nlines\rthree"), booking("b2", title="Señal"), booking("b3", currency="EURO"),
            booking("b4")]
    content = b"\xef\xbb\xbf" + b"".join(
        (csv_text([row], header) if i == 0 else csv_text([row], header).split("\n", 1)[1]).encode(
            "latin-1" if row["id"] == "b2" else "utf-8")
        for i, row in enumerate(rows))
    drops.write(TENANT_A, "bookings", "mixed.csv", content)
    result = _bookings_result(drops, drops.run())
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("ok", 4, 2, 2)
    _reconciled(drops, result)
    quarantine = drops.quarantine()
    assert [(q[0], q[1]) for q in quarantine] == [(2, "title"), (3, "currency")]
    offset = content.index(b"\xf1")
    assert f"byte 0xf1 at offset {offset}" in quarantine[0][3]
    assert quarantine[1][3] == "currency 'EURO' is not an ISO 4217 code"
    assert drops.rows("SELECT id, _row_number, notes FROM raw_files_bookings ORDER BY id") == [
        ("b1", 1, "two\r\nlines\rthree"), ("b4", 4, None)]


def test_structural_problems_still_reject_the_whole_file(drops):
    drops.artists()
    latin_header = "id,name,pa\xeds\n".encode("latin-1") + b"a9,Zed,PT\n"
    drops.write(TENANT_A, "artists", "header.csv", latin_header)
    ragged = (csv_text([booking("b1", title="Café")], BOOKING_HEADER).encode("latin-1")
              + b"b2,art-1,too,few\n")
    drops.write(TENANT_A, "bookings", "ragged.csv", ragged)
    drops.write(TENANT_A, "bookings", "utf16.csv", "id,name\r\na1,Alice\r\n".encode("utf-16"))
    report = drops.run()
    by_name = {f.source.rsplit("/", 1)[1]: f for f in report.files}
    assert by_name["artists.csv"].status == "ok"
    header = by_name["header.csv"]
    assert header.status == "rejected" and "not valid UTF-8 (byte 0xed at offset 10" in header.error
    assert by_name["ragged.csv"].status == "rejected"
    assert by_name["ragged.csv"].error == "row 2 has 4 fields; the header has 12"
    assert by_name["utf16.csv"].status == "rejected" and "UTF-16" in by_name["utf16.csv"].error
    assert drops.rows("SELECT count(*) FROM raw_files_bookings") == [(0,)]
    assert drops.rows("SELECT count(*) FROM quarantine") == [(0,)]


def test_a_malformed_row_in_the_middle_still_rejects_the_file(drops):
    drops.artists()
    text = csv_text([booking("b1")], BOOKING_HEADER) + 'b2,art-1,"bad "quote",x\n' + csv_text(
        [booking("b3")], BOOKING_HEADER).split("\n", 1)[1]
    drops.write(TENANT_A, "bookings", "quotes.csv", text)
    result = _bookings_result(drops, drops.run())
    assert result.status == "rejected" and result.error.startswith("not a readable CSV file: CSV Error on Line: 3")
    assert drops.rows("SELECT count(*) FROM raw_files_bookings") == [(0,)]
