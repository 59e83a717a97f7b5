"""Bulk booking on SQLite and PostgreSQL: uploads checked on the server (type, size, header, cells
kept as text), the preview (reasons, conflicts with the database and inside the batch, costs
against project budgets), both commit modes in one transaction, tenant isolation."""
from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from dataclasses import dataclass
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational import bulk_bookings as bulk
from operational.audit import entries
from operational.bulk_bookings import BulkUploadError, RawRow
from operational.models import Artist, Booking, Project
from operational.permissions import Actor, PermissionDenied

from tests.operational.conftest import CANARY

UTC = dt.timezone.utc


def admin(tenant) -> Actor:
    return Actor.of(user_id=tenant.user_id, tenant_id=tenant.id, role="ORG_ADMIN")


@dataclass(frozen=True)
class Roster:
    x: str        # Xavier Stone, stage name "X-Stone"
    y: str        # Yara Bell
    retired: str  # inactive
    album: str    # project: EUR, budget 1000.00, spent 100.00


@pytest.fixture
def roster(migrated, tenants) -> Roster:
    a, _b = tenants
    with Session(migrated) as session, session.begin():
        x = Artist(org_id=a.id, name="Xavier Stone", stage_name="X-Stone")
        y = Artist(org_id=a.id, name="Yara Bell")
        retired = Artist(org_id=a.id, name="Old Timer", is_active=False)
        album = Project(org_id=a.id, name="Tracking Week", type="ALBUM", status="IN_PROGRESS", currency="EUR",
                        budget=Decimal("1000.00"), spent=Decimal("100.00"))
        session.add_all([x, y, retired, album])
        session.flush()
        return Roster(x.id, y.id, retired.id, album.id)


def row(number: int, **values: str) -> RawRow:
    base = dict(artist="Xavier Stone", title="Tracking", type="RECORDING_SESSION", start="2026-09-07 10:00",
                end="2026-09-07 12:00", timezone="UTC", location="Studio A", remote="no", budget="300",
                currency="EUR", priority="", project="", notes="")
    base.update(values)
    return RawRow(number, {column: base.get(column, "") for column in bulk.COLUMNS})


def csv_bytes(rows: list[list[str]], header=bulk.COLUMNS, bom: bool = True) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def booking_count(engine, tenant_id: str) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Booking).where(Booking.org_id == tenant_id))


# parsing (pure: no database needed, but cheap enough to run on both)

LINE = ["Xavier Stone", "Drums", "RECORDING_SESSION", "2026-09-07 10:00", "2026-09-07 18:00", "Europe/Berlin",
        "Studio A", "no", "1,200.00", "EUR", "HIGH", "Tracking Week", "bring sticks"]


def test_csv_with_bom_is_read_as_text_rows():
    rows = bulk.parse_upload(csv_bytes([LINE, [""] * 13, LINE]), "week.csv")
    assert [r.row for r in rows] == [2, 4]  # record numbers, the header is row 1, blank rows skipped
    assert rows[0].values["artist"] == "Xavier Stone" and rows[0].values["budget"] == "1,200.00"
    assert set(rows[0].values) == set(bulk.COLUMNS)


def test_header_may_leave_out_optional_columns_in_any_order_and_semicolons_work():
    data = "title;artist;type;start;end;remote\r\nMix;Yara Bell;MIXING;2026-09-08 10:00;2026-09-08 11:00;yes\r\n"
    (only,) = bulk.parse_upload(data.encode(), "week.csv")
    assert (only.values["artist"], only.values["remote"], only.values["location"]) == ("Yara Bell", "yes", "")


def test_xlsx_made_with_openpyxl_keeps_cells_as_text_and_never_evaluates_formulas():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(bulk.COLUMNS))
    sheet.append(["Xavier Stone", "=HYPERLINK(\"http://evil.example\",\"x\")", "MIXING",
                  dt.datetime(2026, 9, 7, 10, 0), "2026-09-07 12:00", None, "Studio A", False, 1200.5, "EUR",
                  None, None, "=1+1"])
    sheet["B2"].data_type = "s"  # formula-like text, stored as text
    buffer = io.BytesIO()
    workbook.save(buffer)
    (only,) = bulk.parse_upload(buffer.getvalue(), "Week.XLSX")
    values = only.values
    assert only.row == 2
    assert values["title"] == "=HYPERLINK(\"http://evil.example\",\"x\")"  # text, as typed
    assert values["start"] == "2026-09-07 10:00" and values["end"] == "2026-09-07 12:00"
    assert (values["remote"], values["budget"], values["timezone"]) == ("no", "1200.5", "")
    assert values["notes"] == ""  # a real formula: only a saved value would be read, never computed


def test_formula_like_csv_cells_stay_text():
    line = list(LINE)
    line[1], line[12] = "=cmd|' /C calc'!A0", "@SUM(1+1)"
    (only,) = bulk.parse_upload(csv_bytes([line]), "week.csv")
    assert (only.values["title"], only.values["notes"]) == ("=cmd|' /C calc'!A0", "@SUM(1+1)")


@pytest.mark.parametrize("data, name, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "week.csv", "binary data"),
    (b"\xff\xfe" + "artist,title".encode("utf-16-le"), "week.csv", "binary data"),
    (b"artist,title\n\xe9t\xe9,x\n", "week.csv", "not UTF-8"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "week.xlsx", "old-style"),
    (b"artist,title,type,start,end\n", "week.xlsx", "not an Excel workbook"),
    (b"artist,title,type,start,end\n", "week.txt", "upload a .csv or .xlsx"),
])
def test_files_that_are_not_what_they_claim_are_refused(data, name, message):
    with pytest.raises(BulkUploadError, match=message):
        bulk.parse_upload(data, name)


def test_a_workbook_renamed_csv_and_a_plain_zip_are_refused():
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    workbook.active.append(list(bulk.COLUMNS))
    workbook.save(buffer)
    with pytest.raises(BulkUploadError, match="is an Excel workbook, not a CSV"):
        bulk.parse_upload(buffer.getvalue(), "week.csv")
    import zipfile

    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(BulkUploadError, match="zip archive but not an Excel workbook"):
        bulk.parse_upload(plain.getvalue(), "week.xlsx")


def test_size_and_row_limits():
    big = csv_bytes([LINE[:12] + ["n" * 1000]] * 1100)
    assert len(big) > bulk.MAX_BYTES
    with pytest.raises(BulkUploadError, match="the limit is 1 MiB"):
        bulk.parse_upload(big, "week.csv")
    with pytest.raises(BulkUploadError, match="at most 500 bookings"):
        bulk.parse_upload(csv_bytes([LINE] * 501), "week.csv")
    assert len(bulk.parse_upload(csv_bytes([LINE] * 500), "week.csv")) == 500


@pytest.mark.parametrize("header, message", [
    (list(bulk.COLUMNS) + ["fee"], "unknown column fee"),
    (["artist", "title", "type", "start", "end", "start"], "repeats start"),
    (["artist", "title", "type", "start"], "lacks end"),
])
def test_the_header_must_be_known_columns(header, message):
    with pytest.raises(BulkUploadError, match=message):
        bulk.parse_upload(csv_bytes([], header=header), "week.csv")


def test_extra_values_beyond_the_header_make_the_row_invalid(migrated, tenants, roster):
    a, _b = tenants
    data = "artist,title,type,start,end,location\nXavier Stone,Drums,MIXING,2026-09-07 10:00,2026-09-07 11:00,A,oops\n"
    rows = bulk.parse_upload(data.encode(), "week.csv")
    (only,) = bulk.preview_bookings(migrated, admin(a), rows).rows
    assert only.status == "invalid" and only.reasons == ("row: 7 values for 6 columns",)


def test_grid_records_become_rows():
    rows = bulk.rows_from_records([{"artist": "Yara Bell", "title": "Mix", "budget": 250.0, "remote": True},
                                   {"artist": None, "title": float("nan")}])
    assert len(rows) == 1 and rows[0].row == 1
    assert (rows[0].values["budget"], rows[0].values["remote"], rows[0].values["notes"]) == ("250", "yes", "")
    with pytest.raises(BulkUploadError, match="unknown columns fee"):
        bulk.rows_from_records([{"artist": "x", "fee": "1"}])


def test_template_has_the_known_header():
    rows = bulk.parse_upload(bulk.template_csv(), "template.csv")
    assert len(rows) == 1 and rows[0].values["type"] == "RECORDING_SESSION"


# preview

def test_invalid_rows_list_every_reason(migrated, tenants, roster):
    a, _b = tenants
    rows = [
        row(2, type="KARAOKE", end="2026-09-07 09:00", remote="maybe", location=""),
        row(3, start="07/09/2026 10:00", currency="EURO", budget="12.345"),
        row(4, artist="Old Timer"),
        row(5, artist="Nobody", project="No Such Album", timezone="Mars/Olympus"),
        row(6, artist="X-Stone", title=""),  # the stage name resolves too
        row(7, artist=roster.y, remote="yes", location=""),  # an id, remote without a location: fine
    ]
    preview = bulk.preview_bookings(migrated, admin(a), rows)
    by_row = {r.row: r for r in preview.rows}
    assert [r.status for r in preview.rows] == ["invalid"] * 5 + ["valid"]
    assert {reason.split(":")[0] for reason in by_row[2].reasons} == {"type", "end", "remote", "location"}
    assert {reason.split(":")[0] for reason in by_row[3].reasons} == {"start", "currency", "budget"}
    assert by_row[4].reasons == ("artist: 'Old Timer' is not an active artist",)
    assert set(by_row[5].reasons) == {"artist: 'Nobody': no such artist in your organization",
                                      "project: 'No Such Album': no such project in your organization",
                                      "timezone: unknown time zone 'Mars/Olympus': expected an IANA name such as "
                                      "'Europe/Berlin'"}
    assert by_row[6].reasons == ("title: a title is required",) and by_row[6].artist_name == "X-Stone"
    assert by_row[7].bookable and by_row[7].artist_name == "Yara Bell"


def test_conflict_with_the_database_is_found_in_utc(migrated, tenants, roster):
    a, _b = tenants  # Alpha Artist holds confirmed bookings 2026-03-29 10:00–12:00 UTC
    rows = [row(2, artist="Alpha Artist", start="2026-03-29 13:00", end="2026-03-29 14:00", timezone="Europe/Berlin"),
            row(3, artist="Alpha Artist", start="2026-03-29 14:00", end="2026-03-29 15:00", timezone="Europe/Berlin")]
    first, touching = bulk.preview_bookings(migrated, admin(a), rows).rows
    assert first.status == "valid" and not first.bookable  # 11:00–12:00 UTC (after the DST change) overlaps
    assert first.conflicts[0].startswith(
        "overlaps 'Alpha Artist #0' of Alpha Artist (confirmed), 2026-03-29 12:00–14:00")
    assert touching.bookable and touching.start == dt.datetime(2026, 3, 29, 12, tzinfo=UTC)


def test_conflict_inside_the_batch_flags_both_rows(migrated, tenants, roster):
    a, _b = tenants
    rows = [row(2, start="2026-09-07 10:00", end="2026-09-07 12:00"),
            row(3, artist="Yara Bell", start="2026-09-07 10:00", end="2026-09-07 12:00"),  # another artist
            row(4, artist="X-Stone", start="2026-09-07 07:00", end="2026-09-07 08:00", timezone="America/New_York"),
            row(5, start="2026-09-07 12:00", end="2026-09-07 13:00")]  # touches row 2 only
    preview = bulk.preview_bookings(migrated, admin(a), rows)
    by_row = {r.row: r for r in preview.rows}
    assert by_row[2].conflicting_rows == (4,) and by_row[4].conflicting_rows == (2,)
    assert "overlaps row 4" in by_row[2].conflicts[0] and "overlaps row 2" in by_row[4].conflicts[0]
    assert by_row[3].bookable and by_row[5].bookable
    assert [r.row for r in preview.bookable] == [3, 5]


def test_costs_add_up_per_project_against_its_budget(migrated, tenants, roster):
    a, _b = tenants
    rows = [row(2, project="tracking week", budget="400"),
            row(3, artist="Yara Bell", project=roster.album, budget="600", currency=""),  # the project's EUR
            row(4, artist="Yara Bell", project="Tracking Week", budget="99", currency="GBP",
                start="2026-09-08 10:00", end="2026-09-08 11:00"),
            row(5, project="Tracking Week", budget="", start="2026-09-09 10:00", end="2026-09-09 11:00")]  # no cost
    preview = bulk.preview_bookings(migrated, admin(a), rows)
    first, second, pounds, free = preview.rows
    assert (first.running_total, first.over_budget) == (Decimal("500.00"), False)  # spent 100 + 400
    assert (second.cost, second.currency, second.running_total, second.over_budget) == (
        Decimal("600"), "EUR", Decimal("1100.00"), True)
    assert "in GBP, project 'Tracking Week' is in EUR: not added to its total" in pounds.cost_note
    assert pounds.running_total == Decimal("1100.00") and free.cost is None
    (total,) = preview.projects
    assert (total.batch, total.total, total.left_out, total.over_budget) == (
        Decimal("1000"), Decimal("1100.00"), 1, True)
    assert preview.warnings == ["Project 'Tracking Week' would be over budget: 1,100.00 EUR (spent 100.00 EUR + "
                                "this batch 1,000.00 EUR) against a budget of 1,000.00 EUR"]


def test_the_tenants_time_zone_and_base_currency_are_the_defaults(migrated, tenants, roster):
    a, _b = tenants
    from operational.models import Organization

    with Session(migrated) as session, session.begin():
        session.get(Organization, a.id).settings = {"timezone": "Asia/Tokyo", "base_currency": "JPY"}
    (only,) = bulk.preview_bookings(migrated, admin(a), [row(2, timezone="", currency="")]).rows
    assert (only.timezone, only.currency, only.start) == ("Asia/Tokyo", "JPY", dt.datetime(2026, 9, 7, 1, tzinfo=UTC))


def test_only_those_who_create_bookings_may_preview_or_commit(migrated, tenants, roster):
    a, _b = tenants
    for role in ("VIEWER", "ACCOUNTANT", "CREATOR"):
        actor = Actor.of(user_id=a.user_id, tenant_id=a.id, role=role)
        with pytest.raises(PermissionDenied):
            bulk.preview_bookings(migrated, actor, [row(2)])
        with pytest.raises(PermissionDenied):
            bulk.commit_bookings(migrated, actor, [row(2)], mode="valid_only")


def test_a_client_books_requests_in_their_own_name_and_never_sees_whose_booking_is_in_the_way(
        migrated, tenants, roster):
    a, _b = tenants
    client = Actor.of(user_id=a.user_id, tenant_id=a.id, role="CLIENT")
    rows = [row(2, artist="Alpha Artist", start="2026-03-29 11:00", end="2026-03-29 13:00"), row(3)]
    busy, free = bulk.preview_bookings(migrated, client, rows).rows
    assert busy.conflicts == ("Alpha Artist is already booked 2026-03-29 10:00–12:00 UTC",) and free.bookable
    result = bulk.commit_bookings(migrated, client, rows, mode="valid_only")
    with Session(migrated) as session:
        (made,) = [session.get(Booking, c.booking_id) for c in result.created]
        assert (made.client_id, str(made.status)) == (a.user_id, "PENDING_APPROVAL")


# commit

def test_all_or_nothing_writes_nothing_when_one_row_is_bad(migrated, tenants, roster):
    a, _b = tenants
    before = booking_count(migrated, a.id)
    rows = [row(2), row(3, artist="Yara Bell"), row(4, artist="Yara Bell", type="KARAOKE",
                                                    start="2026-09-09 10:00", end="2026-09-09 11:00")]
    result = bulk.commit_bookings(migrated, admin(a), rows, mode="all_or_nothing")
    assert result.booked == 0 and [r.row for r in result.not_booked] == [2, 3, 4]
    assert result.message.startswith("Nothing was booked: 1 of 3 rows cannot be booked")
    assert booking_count(migrated, a.id) == before
    ok = bulk.commit_bookings(migrated, admin(a), rows[:2], mode="all_or_nothing")
    assert ok.booked == 2 and booking_count(migrated, a.id) == before + 2
    assert ok.message == "Booked 2 sessions. They appear on the dashboard after the next refresh."


def test_valid_only_writes_the_good_rows_and_audits_each(migrated, tenants, roster):
    a, _b = tenants
    before = booking_count(migrated, a.id)
    rows = [row(2, title="=HYPERLINK(\"http://evil.example\")", project="Tracking Week"),
            row(3, artist="Yara Bell", remote="yes", location="", timezone="Europe/Berlin"),
            row(4, type="KARAOKE"),
            row(5, start="2026-09-07 11:00", end="2026-09-07 13:00")]  # overlaps row 2: both refused
    result = bulk.commit_bookings(migrated, admin(a), rows, mode="valid_only")
    assert [c.row for c in result.created] == [3]
    assert [(r.row, r.status, bool(r.conflicts)) for r in result.not_booked] == [
        (2, "valid", True), (4, "invalid", False), (5, "valid", True)]
    assert "1 session; 3 rows not booked" in result.message.replace("Booked ", "")
    again = bulk.commit_bookings(migrated, admin(a), rows[:1], mode="valid_only")  # row 2 alone: booked
    assert again.booked == 1
    assert booking_count(migrated, a.id) == before + 2
    with Session(migrated) as session:
        for created in result.created + again.created:
            stored = session.get(Booking, created.booking_id)
            assert (stored.org_id, stored.created_by_id, str(stored.status)) == (a.id, a.user_id, "PENDING_APPROVAL")
            assert [e.action for e in entries(session, a.id, entity="bookings", entity_id=stored.id)] == ["create"]
        formula = session.get(Booking, again.created[0].booking_id)
        assert formula.title == "=HYPERLINK(\"http://evil.example\")" and formula.project_id == roster.album
        remote = session.get(Booking, result.created[0].booking_id)
        assert remote.is_remote and remote.start_date == dt.datetime(2026, 9, 7, 8, tzinfo=UTC)


def test_a_second_commit_of_the_same_batch_finds_its_own_bookings(migrated, tenants, roster):
    a, _b = tenants
    rows = [row(2), row(3, artist="Yara Bell")]
    assert bulk.commit_bookings(migrated, admin(a), rows, mode="all_or_nothing").booked == 2
    again = bulk.commit_bookings(migrated, admin(a), rows, mode="valid_only")
    assert again.booked == 0 and all("overlaps 'Tracking'" in r.conflicts[0] for r in again.not_booked)


def test_concurrent_batches_over_the_same_artists_one_wins_without_deadlock(migrated, tenants, roster):
    a, _b = tenants
    forward = [row(2, artist=roster.x), row(3, artist=roster.y)]
    backward = [row(2, artist=roster.y), row(3, artist=roster.x)]  # the other order: locks taken sorted anyway
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(rows) -> None:
        barrier.wait()
        try:
            outcome = str(bulk.commit_bookings(migrated, admin(a), rows, mode="all_or_nothing").booked)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            outcome = f"error: {exc!r}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(rows,)) for rows in (forward, backward, forward, backward)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["0", "0", "0", "2"], outcomes


def test_unknown_mode_is_refused(migrated, tenants, roster):
    a, _b = tenants
    with pytest.raises(ValueError, match="unknown mode"):
        bulk.commit_bookings(migrated, admin(a), [row(2)], mode="some")  # type: ignore[arg-type]


# tenant isolation

def test_another_tenants_artist_or_project_is_unknown_here(migrated, tenants, roster):
    a, b = tenants
    before_a, before_b = booking_count(migrated, a.id), booking_count(migrated, b.id)
    rows = [row(2, artist=b.artist_id), row(3, artist=CANARY), row(4, artist=CANARY.lower()),
            row(5, project=b.project_id), row(6, project="tenant-b album")]
    preview = bulk.preview_bookings(migrated, admin(a), rows)
    assert [r.status for r in preview.rows] == ["invalid"] * 5
    assert preview.rows[0].reasons == (f"artist: {b.artist_id!r}: no such artist in your organization",)
    assert preview.rows[1].reasons == (f"artist: {CANARY!r}: no such artist in your organization",)
    assert preview.rows[3].reasons == (f"project: {b.project_id!r}: no such project in your organization",)
    assert preview.rows[4].reasons == ("project: 'tenant-b album': no such project in your organization",)
    assert not any(r.artist_id == b.artist_id or r.project_id == b.project_id for r in preview.rows)
    result = bulk.commit_bookings(migrated, admin(a), rows, mode="valid_only")
    assert result.booked == 0
    assert (booking_count(migrated, a.id), booking_count(migrated, b.id)) == (before_a, before_b)
    # Tenant B's actor books its own artist by name, unaffected by A's same-named rows
    mine = bulk.commit_bookings(migrated, admin(b), [row(2, artist=CANARY, currency="EUR")], mode="all_or_nothing")
    assert mine.booked == 1 and booking_count(migrated, b.id) == before_b + 1
