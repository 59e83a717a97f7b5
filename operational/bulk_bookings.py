"""Bulk booking: many sessions across artists and dates at once (an album's tracking week).

Three steps, each usable alone (the bulk booking page, later the API and the CLI):

1. :func:`parse_upload` reads a CSV or XLSX upload into :class:`RawRow` objects, checked on the
   server: size (1 MiB, 500 rows), the real file type (an XLSX workbook by its zip signature and
   ``[Content_Types].xml``, a CSV as UTF-8 text with or without BOM, whatever the file's name
   says), a header made only of known columns (:data:`COLUMNS`). Every cell is kept as text: no
   formula is evaluated (a workbook's formula cell gives its cached value, if any), and text
   that looks like a formula stays text. :func:`rows_from_records` does the same for the rows of
   the page's grid.
2. :func:`preview_bookings` checks every row like :func:`operational.bookings.create_booking`
   would (fields, artist and project in the actor's tenant only, permission), finds the
   conflicts with the database and inside the batch (UTC), and adds up each row's cost per
   project against the project's budget (no FX conversion: a row in another currency than its
   project's is reported and left out of the total).
3. :func:`commit_bookings` writes the rows in ONE write transaction
   (:func:`operational.bookings.write_transaction`) after checking them again inside it, every
   artist involved held (:func:`operational.bookings.hold_artist`, in id order: no deadlock
   between two batches); ``all_or_nothing`` writes nothing unless every row can be booked,
   ``valid_only`` writes the rows that can and reports the others. Every booking written leaves
   an audit row (TenantRepository).

Bulk bookings are requests (``PENDING_APPROVAL``): they block the artist's time, and a manager
approves them like any other booking.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import booking_rules as rules
from operational import bookings, webhooks
from operational.booking_rules import BookingDraft, BookingError, ValidBooking
from operational.enums import BookingStatus
from operational.models import Artist, Booking, Project
from operational.permissions import (
    Action,
    Actor,
    PermissionDenied,
    Resource,
    Row,
    check_permission,
    require_permission,
)
from operational.repository import NotFoundError, TenantRepository

__all__ = [
    "BulkCommitResult", "BulkPreview", "BulkUploadError", "COLUMN_HELP", "COLUMNS", "CreatedBooking", "MAX_BYTES", "MAX_ROWS",
    "ProjectTotal", "RawRow", "REQUIRED_COLUMNS", "RowPreview", "commit_bookings", "money", "parse_upload",
    "preview_bookings", "rows_from_records", "template_csv",
]

MAX_BYTES = 1024 * 1024
MAX_ROWS = 500
MAX_UNZIPPED_BYTES = 32 * 1024 * 1024
"""A workbook that inflates past this is refused before it is parsed (zip bombs)."""

COLUMNS = ("artist", "title", "type", "start", "end", "timezone", "location", "remote", "budget", "currency",
           "priority", "project", "notes")
"""The known columns, in the template's order."""
REQUIRED_COLUMNS = ("artist", "title", "type", "start", "end")
"""Columns the header must have; the others may be left out (blank)."""
COLUMN_HELP = {
    "artist": "artist id, name or stage name (of your organization)",
    "title": "what the session is",
    "type": "RECORDING_SESSION, MIXING, MASTERING, PRODUCTION, CONSULTATION, PERFORMANCE, WORKSHOP or OTHER",
    "start": "local start, YYYY-MM-DD HH:MM",
    "end": "local end, YYYY-MM-DD HH:MM",
    "timezone": "IANA time zone of start and end (blank: your organization's)",
    "location": "where (required unless remote)",
    "remote": "yes or no (blank: no)",
    "budget": "the session's cost, e.g. 1200.00",
    "currency": "ISO 4217 code (blank: the project's, else your organization's)",
    "priority": "LOW, MEDIUM, HIGH or URGENT (blank: MEDIUM)",
    "project": "project id or name (optional)",
    "notes": "anything else (optional)",
}
BULK_STATUS = BookingStatus.PENDING_APPROVAL
Mode = Literal["all_or_nothing", "valid_only"]
MODES: tuple[str, ...] = ("all_or_nothing", "valid_only")

_FIELD_COLUMN = {"artist_id": "artist", "project_id": "project", "is_remote": "remote"}
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(:\d{2})?$")
_YES = frozenset({"yes", "y", "true", "1", "x"})
_NO = frozenset({"no", "n", "false", "0", ""})
_ZIP_SIGNATURES = (b"PK\x03\x04",)
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / encrypted workbooks


class BulkUploadError(AuditoryxError):
    """The upload (or the batch) as a whole cannot be read: wrong type, too big, bad header."""


@dataclass(frozen=True)
class RawRow:
    """One row as typed: ``values`` maps each known column to its text ("" when blank).

    ``row`` is the row's number where the person sees it: the spreadsheet or CSV record number
    (the header being row 1), or the line of the grid. ``error`` marks a row that could not be
    split into the columns (e.g. more values than columns)."""

    row: int
    values: Mapping[str, str]
    error: str | None = None

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()


# 1. reading uploads

def template_csv() -> bytes:
    """The CSV template: the header and one example row (UTF-8 with BOM, opens in Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow(["Lumen Vale", "Tracking day 1: drums", "RECORDING_SESSION", "2026-09-07 10:00",
                     "2026-09-07 18:00", "", "Studio A", "no", "1200.00", "", "HIGH", "", ""])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def parse_upload(data: bytes, filename: str) -> list[RawRow]:
    """The rows of an uploaded CSV or XLSX file (blank rows skipped), or BulkUploadError.

    The content decides what the file is, not its name; a name that contradicts the content
    (a workbook called .csv, a binary renamed .csv) is refused with a message saying so."""
    if not isinstance(data, (bytes, bytearray)):
        raise BulkUploadError("the upload is not a file")
    data = bytes(data)
    name = str(filename or "upload").strip()
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ("csv", "xlsx"):
        raise BulkUploadError(f"{name}: upload a .csv or .xlsx file")
    if len(data) > MAX_BYTES:
        raise BulkUploadError(f"{name} is {len(data) / 1024 / 1024:.1f} MiB: the limit is 1 MiB "
                              f"({MAX_ROWS} rows); split the file")
    if not data.strip():
        raise BulkUploadError(f"{name} is empty: expected the header {','.join(COLUMNS)}")
    if data.startswith(_ZIP_SIGNATURES):
        if not _is_xlsx(data):
            raise BulkUploadError(f"{name} is a zip archive but not an Excel workbook (.xlsx)")
        if extension != "xlsx":
            raise BulkUploadError(f"{name} is an Excel workbook, not a CSV file: upload it with the .xlsx extension")
        return _xlsx_rows(data, name)
    if data.startswith(_OLE_SIGNATURE):
        raise BulkUploadError(f"{name} is an old-style (.xls) or protected workbook: save it as .xlsx or CSV UTF-8")
    if extension == "xlsx":
        raise BulkUploadError(f"{name} is not an Excel workbook (.xlsx): the file's content is something else")
    return _csv_rows(data, name)


def rows_from_records(records: Iterable[Mapping[str, Any]], *, first_row: int = 1) -> list[RawRow]:
    """Rows typed in a grid (mappings of column → value), numbered from ``first_row``; blank rows
    are skipped, unknown keys refused."""
    rows: list[RawRow] = []
    for number, record in enumerate(records, start=first_row):
        values = {str(key).strip().lower(): _text(value) for key, value in dict(record).items()}
        unknown = sorted(set(values) - set(COLUMNS))
        if unknown:
            raise BulkUploadError(f"unknown columns {', '.join(unknown)}: the columns are {', '.join(COLUMNS)}")
        if not any(v.strip() for v in values.values()):
            continue
        rows.append(RawRow(number, {column: values.get(column, "") for column in COLUMNS}))
        _check_row_count(rows)
    return rows


def _is_xlsx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names


def _xlsx_rows(data: bytes, name: str) -> list[RawRow]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
            raise BulkUploadError(f"{name} unpacks to more than {MAX_UNZIPPED_BYTES // 1024 // 1024} MiB: "
                                  "not a plain table of bookings")
    import openpyxl  # only needed here

    try:  # data_only: a formula cell gives the value it was saved with, never a recomputation
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a workbook we can read"
        raise BulkUploadError(f"{name} could not be read as an Excel workbook ({exc.__class__.__name__})") from None
    try:
        if not workbook.worksheets:
            raise BulkUploadError(f"{name} has no worksheet")
        sheet = workbook.worksheets[0]
        records = ((number, [_text(cell) for cell in values])
                   for number, values in enumerate(sheet.iter_rows(values_only=True), start=1))
        return _table_rows(records, name)
    finally:
        workbook.close()


def _csv_rows(data: bytes, name: str) -> list[RawRow]:
    if b"\x00" in data:
        raise BulkUploadError(f"{name} is not a CSV file: it contains binary data (save the sheet as CSV UTF-8)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BulkUploadError(f"{name} is not UTF-8 text: save it as 'CSV UTF-8' (or upload the .xlsx)") from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _table_rows(((number, record) for number, record in enumerate(reader, start=1)), name)
    except csv.Error as exc:
        raise BulkUploadError(f"{name} is not a well-formed CSV file: {exc}") from None


def _table_rows(records: Iterable[tuple[int, list[str]]], name: str) -> list[RawRow]:
    """Header (the first non-blank record) and rows of a table of text cells."""
    columns: list[str] | None = None
    rows: list[RawRow] = []
    for number, record in records:
        if not any(cell.strip() for cell in record):
            continue
        if columns is None:
            columns = _header(record, name)
            continue
        cells = list(record)
        extra = [cell for cell in cells[len(columns):] if cell.strip()]
        error = f"{len(columns) + len(extra)} values for {len(columns)} columns" if extra else None
        values = {column: "" for column in COLUMNS}
        values.update({column: cell for column, cell in zip(columns, cells)})
        rows.append(RawRow(number, values, error))
        _check_row_count(rows)
    if columns is None:
        raise BulkUploadError(f"{name} is empty: expected the header {','.join(COLUMNS)}")
    return rows


def _header(record: Sequence[str], name: str) -> list[str]:
    cells = [cell.strip().lower() for cell in record]
    while cells and not cells[-1]:
        cells.pop()
    unknown = [cell or "(blank)" for cell in cells if cell not in COLUMNS]
    if unknown:
        raise BulkUploadError(f"{name}: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in "
                              f"the header; the columns are {','.join(COLUMNS)} (download the template)")
    repeated = sorted({cell for cell in cells if cells.count(cell) > 1})
    if repeated:
        raise BulkUploadError(f"{name}: the header repeats {', '.join(repeated)}")
    missing = [column for column in REQUIRED_COLUMNS if column not in cells]
    if missing:
        raise BulkUploadError(f"{name}: the header lacks {', '.join(missing)}; the columns are {','.join(COLUMNS)}")
    return cells


def _check_row_count(rows: Sequence[Any]) -> None:
    if len(rows) > MAX_ROWS:
        raise BulkUploadError(f"at most {MAX_ROWS} bookings at once: split the file")


def _text(value: Any) -> str:
    """A cell as the text a person would read in it (no formula is ever evaluated here)."""
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a grid
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d 00:00")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


# 2. checking a batch

@dataclass(frozen=True)
class RowPreview:
    """What one row would become. ``status`` is "valid" (every field fine) or "invalid";
    ``conflicts`` lists the bookings (in the database or in the batch) it overlaps; a row is
    booked only if it is valid and conflict-free (:attr:`bookable`)."""

    row: int
    status: str
    reasons: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    conflicting_rows: tuple[int, ...] = ()
    title: str = ""
    artist_id: str | None = None
    artist_name: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    start: dt.datetime | None = None       # UTC
    end: dt.datetime | None = None
    timezone: str | None = None
    cost: decimal.Decimal | None = None     # the budget, in ``currency``
    currency: str | None = None
    cost_note: str | None = None            # e.g. "in GBP, the project is in EUR: not in its total"
    running_total: decimal.Decimal | None = None  # the project's total after this row (project currency)
    over_budget: bool = False

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    @property
    def bookable(self) -> bool:
        return self.valid and not self.conflicts

    @property
    def local_start(self) -> str:
        return "" if self.start is None else f"{rules.to_local(self.start, self.timezone):%Y-%m-%d %H:%M}"

    @property
    def local_end(self) -> str:
        return "" if self.end is None else f"{rules.to_local(self.end, self.timezone):%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class ProjectTotal:
    """A project's money against its budget: ``spent`` so far plus this batch's bookable rows
    in the project's currency (``batch``) make ``total``."""

    project_id: str
    name: str
    currency: str
    budget: decimal.Decimal | None
    spent: decimal.Decimal
    batch: decimal.Decimal
    left_out: int = 0   # rows of another currency, not added

    @property
    def total(self) -> decimal.Decimal:
        return self.spent + self.batch

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.total > self.budget

    @property
    def warning(self) -> str | None:
        if not self.over_budget:
            return None
        return (f"Project '{self.name}' would be over budget: {_money(self.total, self.currency)} "
                f"(spent {_money(self.spent, self.currency)} + this batch {_money(self.batch, self.currency)}) "
                f"against a budget of {_money(self.budget, self.currency)}")


@dataclass(frozen=True)
class BulkPreview:
    rows: list[RowPreview]
    projects: list[ProjectTotal] = field(default_factory=list)

    @property
    def bookable(self) -> list[RowPreview]:
        return [r for r in self.rows if r.bookable]

    @property
    def refused(self) -> list[RowPreview]:
        return [r for r in self.rows if not r.bookable]

    @property
    def all_bookable(self) -> bool:
        return bool(self.rows) and not self.refused

    @property
    def warnings(self) -> list[str]:
        return [p.warning for p in self.projects if p.warning]


@dataclass
class _Context:
    """The tenant's reference data, loaded once per batch."""

    timezone: str
    base_currency: str
    artists: list[Artist]
    projects: list[Project]

    def __post_init__(self) -> None:
        self.artist_by_id = {a.id: a for a in self.artists}
        self.project_by_id = {p.id: p for p in self.projects}
        self.artists_by_name: dict[str, list[Artist]] = defaultdict(list)
        for artist in self.artists:
            for label in {(artist.name or "").strip().casefold(), (artist.stage_name or "").strip().casefold()}:
                if label:
                    self.artists_by_name[label].append(artist)
        self.projects_by_name: dict[str, list[Project]] = defaultdict(list)
        for project in self.projects:
            self.projects_by_name[(project.name or "").strip().casefold()].append(project)


@dataclass
class _Checked:
    raw: RawRow
    errors: dict[str, str]
    valid: ValidBooking | None = None
    artist: Artist | None = None
    project: Project | None = None
    extra: dict = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    conflicting_rows: list[int] = field(default_factory=list)


def preview_bookings(engine: Engine, actor: Actor, rows: Sequence[RawRow]) -> BulkPreview:
    """Check a batch without writing: one :class:`RowPreview` per row, in order, and each
    project's total against its budget."""
    require_permission(actor, Resource.BOOKINGS, Action.CREATE)
    _check_batch(rows)
    with Session(engine) as session:
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        return _check(session, repo, actor, rows, hold=False)[0]


@dataclass(frozen=True)
class CreatedBooking:
    row: int
    booking_id: str
    artist_name: str
    title: str


@dataclass(frozen=True)
class BulkCommitResult:
    """What :func:`commit_bookings` did: the bookings written (``created``) and the rows not
    written with the reasons found inside the transaction (``preview``)."""

    mode: str
    created: list[CreatedBooking]
    preview: BulkPreview

    @property
    def booked(self) -> int:
        return len(self.created)

    @property
    def not_booked(self) -> list[RowPreview]:
        written = {c.row for c in self.created}
        return [r for r in self.preview.rows if r.row not in written]

    @property
    def message(self) -> str:
        if self.created:
            skipped = len(self.not_booked)
            return (f"Booked {self.booked} session{'s' if self.booked != 1 else ''}"
                    + (f"; {skipped} row{'s' if skipped != 1 else ''} not booked (see the reasons)" if skipped else "")
                    + ". They appear on the dashboard after the next refresh.")
        if self.mode == "all_or_nothing" and self.preview.rows:
            return (f"Nothing was booked: {len(self.preview.refused)} of {len(self.preview.rows)} rows cannot be "
                    "booked (all or nothing). Fix them, or book only the valid rows.")
        return "Nothing was booked: no row can be booked."


def commit_bookings(engine: Engine, actor: Actor, rows: Sequence[RawRow], *,
                    mode: Mode = "all_or_nothing") -> BulkCommitResult:
    """Book the batch in one write transaction, every row checked again inside it.

    ``all_or_nothing``: nothing is written unless every row is valid and free of conflicts.
    ``valid_only``: the rows that are are written, the others reported."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    require_permission(actor, Resource.BOOKINGS, Action.CREATE)
    _check_batch(rows)
    with bookings.write_transaction(engine, actor) as (session, repo):
        preview, checked = _check(session, repo, actor, rows, hold=True)
        if mode == "all_or_nothing" and not preview.all_bookable:
            return BulkCommitResult(mode, [], preview)
        created: list[CreatedBooking] = []
        for item, row in zip(checked, preview.rows):
            if not row.bookable:
                continue
            booking = repo.add(Booking, **bookings.booking_values(item.valid), **item.extra,
                               created_by_id=actor.user_id)
            webhooks.emit_booking(session, actor, booking, "booking.created")
            created.append(CreatedBooking(row.row, booking.id, row.artist_name or "", booking.title))
        return BulkCommitResult(mode, created, preview)


def _check_batch(rows: Sequence[RawRow]) -> None:
    if len(rows) > MAX_ROWS:
        raise BulkUploadError(f"at most {MAX_ROWS} bookings at once: split the batch")
    numbers = [r.row for r in rows]
    if len(set(numbers)) != len(numbers):
        raise BulkUploadError("two rows of the batch have the same row number")


def _context(repo: TenantRepository) -> _Context:
    settings = repo.organization().settings or {}
    try:
        zone = rules.validate_timezone(settings.get("timezone") or "UTC")
    except ValueError:
        zone = "UTC"
    currency = str(settings.get("base_currency") or "USD").upper()
    return _Context(zone, currency, repo.list(Artist, order_by=(Artist.name, Artist.id)),
                    repo.list(Project, order_by=(Project.name, Project.id)))


def _check(session: Session, repo: TenantRepository, actor: Actor, rows: Sequence[RawRow], *,
           hold: bool) -> tuple[BulkPreview, list[_Checked]]:
    context = _context(repo)
    checked = [_validate(raw, context) for raw in rows]
    if hold:  # the artists of the batch, locked in a stable order (PostgreSQL; SQLite holds the database)
        for artist_id in sorted({c.artist.id for c in checked if c.artist is not None and c.valid is not None}):
            bookings.hold_artist(session, repo, artist_id)
    for item in checked:
        if item.valid is None:
            continue
        try:
            item.extra = bookings.check_create(actor, item.valid, repo)
        except (PermissionDenied, NotFoundError) as exc:
            item.errors["permission"] = str(exc)
            item.valid = None
            continue
        if item.valid.status in rules.BLOCKING_STATUSES:
            for clash in bookings.conflicts_for(session, repo.tenant_id, item.artist, item.valid.interval):
                described = _describe_clash(actor, clash, item.valid.timezone)
                if described not in item.conflicts:
                    item.conflicts.append(described)
    _batch_conflicts([c for c in checked if c.valid is not None])
    return _preview(checked, context), checked


def _validate(raw: RawRow, context: _Context) -> _Checked:
    errors: dict[str, str] = {}
    if raw.error:
        errors["row"] = raw.error
    artist = _resolve_artist(raw.get("artist"), context, errors)
    project = _resolve_project(raw.get("project"), context, errors)
    remote_text = raw.get("remote").lower()
    if remote_text not in _YES | _NO:
        errors["remote"] = f"{raw.get('remote')!r}: yes or no"
    start, end = _local_datetime(raw.get("start"), "start", errors), _local_datetime(raw.get("end"), "end", errors)
    currency = raw.get("currency") or (project.currency if project is not None else context.base_currency)
    draft = BookingDraft(
        artist_id=artist.id if artist is not None else "", title=raw.get("title"), type=raw.get("type"),
        start_local=start, end_local=end, timezone=raw.get("timezone") or context.timezone,
        location=raw.get("location") or None, is_remote=remote_text in _YES, budget=raw.get("budget") or None,
        currency=currency, priority=raw.get("priority") or "MEDIUM",
        project_id=project.id if project is not None else None, notes=raw.get("notes") or None,
        status=BULK_STATUS)
    valid = None
    try:
        valid = rules.validate_draft(draft)
    except BookingError as exc:
        for name, message in exc.errors.items():
            errors.setdefault(_FIELD_COLUMN.get(name, name), message)
    if errors:
        valid = None
    return _Checked(raw, errors, valid, artist, project)


def _resolve_artist(text: str, context: _Context, errors: dict[str, str]) -> Artist | None:
    if not text:
        errors["artist"] = "an artist is required (id, name or stage name)"
        return None
    artist = context.artist_by_id.get(text)
    if artist is None:
        found = context.artists_by_name.get(text.casefold(), [])
        if len(found) > 1:
            errors["artist"] = f"{len(found)} artists are called {text!r}: use the artist's id"
            return None
        artist = found[0] if found else None
    if artist is None:  # unknown, or another tenant's: the same answer
        errors["artist"] = f"{text!r}: no such artist in your organization"
        return None
    if not artist.is_active:
        errors["artist"] = f"{text!r} is not an active artist"
        return None
    return artist


def _resolve_project(text: str, context: _Context, errors: dict[str, str]) -> Project | None:
    if not text:
        return None
    project = context.project_by_id.get(text)
    if project is None:
        found = context.projects_by_name.get(text.casefold(), [])
        if len(found) > 1:
            errors["project"] = f"{len(found)} projects are called {text!r}: use the project's id"
            return None
        project = found[0] if found else None
    if project is None:
        errors["project"] = f"{text!r}: no such project in your organization"
    return project


def _local_datetime(text: str, column: str, errors: dict[str, str]) -> dt.datetime | None:
    if not text:
        errors[column] = "a date and time is required (YYYY-MM-DD HH:MM)"
        return None
    match = _DATETIME.match(text)
    if match is None:
        errors[column] = f"{text!r} is not a date and time (YYYY-MM-DD HH:MM)"
        return None
    try:
        return dt.datetime.strptime(f"{match.group(1)} {match.group(2)}", "%Y-%m-%d %H:%M")
    except ValueError:
        errors[column] = f"{text!r} is not a date and time (YYYY-MM-DD HH:MM)"
        return None


def _describe_clash(actor: Actor, clash: bookings.BookingView, zone: str) -> str:
    """The booking in the way, named only to someone who may read it (a client learns that the
    artist is busy then, not whose booking it is)."""
    start, end = rules.to_local(clash.start, zone), rules.to_local(clash.end, zone)
    when = f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M}" if start.date() != end.date() else \
        f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    if not check_permission(actor, Resource.BOOKINGS, Action.READ,
                            row=Row(artist_id=clash.artist_id, client_id=clash.client_id)):
        return f"{clash.artist_name} is already booked {when} {zone}"
    return f"overlaps '{clash.title}' of {clash.artist_name} ({clash.status.replace('_', ' ').lower()}), {when} {zone}"


def _batch_conflicts(items: list[_Checked]) -> None:
    """Two valid rows of one artist that overlap (UTC): both flagged, each naming the other."""
    by_artist: dict[str, list[_Checked]] = defaultdict(list)
    for item in items:
        if item.valid.status in rules.BLOCKING_STATUSES:
            by_artist[item.valid.artist_id].append(item)
    for group in by_artist.values():
        group.sort(key=lambda c: (c.valid.start, c.raw.row))
        for i, first in enumerate(group):
            for second in group[i + 1:]:
                if second.valid.start >= first.valid.end:
                    break
                if rules.overlaps(first.valid.interval, second.valid.interval):
                    for this, other in ((first, second), (second, first)):
                        this.conflicting_rows.append(other.raw.row)
                        this.conflicts.append(f"overlaps row {other.raw.row} ('{other.valid.title}', same artist) "
                                              "in this batch")
    for item in items:
        item.conflicting_rows.sort()


def _preview(checked: list[_Checked], context: _Context) -> BulkPreview:
    batch: dict[str, decimal.Decimal] = defaultdict(decimal.Decimal)
    left_out: dict[str, int] = defaultdict(int)
    previews: list[RowPreview] = []
    for item in checked:
        raw, valid, project, artist = item.raw, item.valid, item.project, item.artist
        reasons = tuple(f"{name}: {message}" for name, message in item.errors.items())
        if valid is None:
            previews.append(RowPreview(row=raw.row, status="invalid", reasons=reasons, title=raw.get("title"),
                                       artist_id=artist.id if artist else None,
                                       artist_name=_artist_name(artist) if artist else raw.get("artist") or None,
                                       project_id=project.id if project else None,
                                       project_name=project.name if project else None))
            continue
        note, running, over = None, None, False
        bookable = not item.conflicts
        if project is not None:
            if valid.budget is not None and valid.currency != project.currency:
                note = (f"in {valid.currency}, project '{project.name}' is in {project.currency}: "
                        "not added to its total (no conversion)")
                if bookable:
                    left_out[project.id] += 1
            elif valid.budget is not None and bookable:
                batch[project.id] += valid.budget
            elif not bookable and valid.budget is not None:
                note = "not booked (conflict): not added to the project's total"
            running = (project.spent or decimal.Decimal("0")) + batch[project.id]
            over = project.budget is not None and running > project.budget
        previews.append(RowPreview(
            row=raw.row, status="valid", reasons=(), conflicts=tuple(item.conflicts),
            conflicting_rows=tuple(item.conflicting_rows), title=valid.title, artist_id=artist.id,
            artist_name=_artist_name(artist), project_id=project.id if project else None,
            project_name=project.name if project else None, start=valid.start, end=valid.end,
            timezone=valid.timezone, cost=valid.budget, currency=valid.currency, cost_note=note,
            running_total=running, over_budget=over))
    seen: list[str] = []
    for item in checked:
        if item.project is not None and item.project.id not in seen:
            seen.append(item.project.id)
    totals = [ProjectTotal(project_id=p.id, name=p.name, currency=p.currency, budget=p.budget,
                           spent=p.spent or decimal.Decimal("0"), batch=batch[p.id], left_out=left_out[p.id])
              for p in (context.project_by_id[pid] for pid in seen)]
    return BulkPreview(previews, totals)


def _artist_name(artist: Artist) -> str:
    return artist.stage_name or artist.name


def _money(amount: decimal.Decimal | None, currency: str) -> str:
    return "–" if amount is None else f"{amount:,.2f} {currency}"


def money(amount: decimal.Decimal | None, currency: str | None) -> str:
    """``1,234.50 EUR`` (for pages)."""
    return "" if amount is None else _money(amount, currency or "")
