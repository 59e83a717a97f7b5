"""Reading one dropped file as text columns, streaming.

Every format gives the same shape (a :class:`Source`): one VARCHAR expression per contract column
present in the file, over a ``FROM`` clause reading the file with DuckDB's
``read_csv``/``read_parquet``/``read_json``, which stream (nothing passes through Python rows;
:mod:`ingestion.files.validate` turns it into a typed temp table, spilling to disk when it
outgrows memory).

Columns are matched by header name (trimmed, case-insensitive), never by position; unknown names
are extras and ignored. Identifiers in the generated SQL are only our own (``_c<i>``, ``r_<col>``):
file column names only ever travel as bound parameters or positional aliases.

A CSV DuckDB cannot read as it is (bytes that are not UTF-8, a quoted field left open at the end)
goes through :func:`salvage_csv`, which quarantines those records and loads the others.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion.files.schema import EntitySpec

FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
CHUNK_BYTES = 1 << 20
HEADER_LIMIT_BYTES = 1 << 20
REJECT_VALUE_CHARS = 2000   # text of a rejected record kept (the quarantine keeps 1000 characters)
CSV_DELIMITERS = (",", ";", "\t", "|")
UTF8_BOM = codecs.BOM_UTF8
_NESTED_TYPE = re.compile(r"(\[\]$|^STRUCT|^MAP|^UNION|^JSON)")


class FileRejected(Exception):
    """The file as a whole cannot be used; the message is meant for the tenant."""


@dataclass(frozen=True)
class Preflight:
    checksum: str
    size_bytes: int
    starts_with_bom: bool
    encoding_error: str | None
    row_level: bool = False   # the encoding error can be isolated row by row (CSV, not UTF-16)


@dataclass(frozen=True)
class Source:
    """How to read the file: ``SELECT <expressions[col]> FROM <from_sql>`` with ``params`` bound."""

    from_sql: str
    expressions: dict[str, str]   # contract column → VARCHAR expression (absent columns: missing)
    params: dict
    row_number: str = "row_number() OVER ()"   # the data row number in the file (1 = first record)
    # salvaged CSV: ``SELECT row_number, "column", value, reason FROM <rejects_sql>`` lists the
    # records the reader could not use (bound with ``params``); None: every record was read
    rejects_sql: str | None = None


@dataclass
class SourceColumns:
    """The file's column names and how they map onto the contract."""

    names: list[str]                                     # as written in the file
    positions: dict[str, int] = field(default_factory=dict)  # contract column → index in ``names``
    extras: list[str] = field(default_factory=list)

    @property
    def present(self) -> set[str]:
        return set(self.positions)


def file_format(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def preflight(path: Path, fmt: str | None) -> Preflight:
    """SHA-256 of the bytes and, for text formats, the first UTF-8 error: one streaming pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if fmt in ("csv", "json") else None
    error = None
    offset = 0
    first = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            if not first:
                first = chunk[:4]
            digest.update(chunk)
            if decoder is not None and error is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    error = _encoding_error(first, offset + exc.start, exc.object[exc.start:exc.start + 1])
            offset += len(chunk)
    if decoder is not None and error is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            error = f"file is not valid UTF-8: it ends inside a multi-byte character (byte {offset}); save it as UTF-8"
    utf16 = first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return Preflight(checksum=digest.hexdigest(), size_bytes=offset, starts_with_bom=first.startswith(UTF8_BOM),
                     encoding_error=error, row_level=error is not None and fmt == "csv" and not utf16)


def _encoding_error(first: bytes, position: int, byte: bytes) -> str:
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "file is UTF-16 encoded; save it as UTF-8"
    return (f"file is not valid UTF-8 (byte 0x{byte.hex()} at offset {position}; "
            "Latin-1/Windows-1252 exports look like this): save it as UTF-8")


def normalize(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def map_columns(names: list[str], spec: EntitySpec) -> SourceColumns:
    """Match file columns to the contract by normalized name; reject ambiguous or incomplete headers."""
    columns = SourceColumns(names=list(names))
    known = set(spec.names)
    for index, name in enumerate(names):
        key = normalize(name)
        if key in known:
            if key in columns.positions:
                first = names[columns.positions[key]]
                raise FileRejected(f"column {key!r} appears twice in the header ({first!r} and {name!r})")
            columns.positions[key] = index
        else:
            columns.extras.append(name if name.strip() else f"(unnamed column {index + 1})")
    missing = [c for c in spec.required if c not in columns.positions]
    if missing:
        found = ", ".join(repr(n) for n in names) or "none"
        raise FileRejected(f"missing required columns: {', '.join(missing)} (columns found: {found})")
    return columns


# --------------------------------------------------------------------------------------------- CSV

def _csv_header(path: Path) -> tuple[list[str], str]:
    with open(path, "rb") as handle:
        head = handle.read(HEADER_LIMIT_BYTES)
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head)  # drops a cut-off last char
    except UnicodeDecodeError as exc:
        if not re.search(rb"[\r\n]", head[:exc.start]):  # the header row itself is not UTF-8
            raise FileRejected(_encoding_error(head[:4], exc.start, head[exc.start:exc.start + 1])) from exc
        text = head[:exc.start].decode("utf-8")  # a later record is salvaged row by row
    text = text.removeprefix("\ufeff")
    first_line = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    if not first_line.strip():
        raise FileRejected("no header row: the first line of the CSV is empty")
    if len(head) == HEADER_LIMIT_BYTES and not re.search(r"[\r\n]", text):
        raise FileRejected(f"header row is longer than {HEADER_LIMIT_BYTES} bytes")
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    delimiter = max(CSV_DELIMITERS, key=lambda d: (unquoted.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    try:
        names = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise FileRejected(f"unreadable CSV header: {exc}") from exc
    return names, delimiter


class SalvageNotApplicable(Exception):
    """The salvage pass found nothing to quarantine row by row (the original error stands)."""


@dataclass
class _Record:
    start: int          # byte offset of the record in the file
    raw: bytes          # the record's bytes, line ending included


def _lines_with_offsets(handle, record: _Record, offset: int):
    """Lines of a binary file decoded with ``surrogateescape`` (bad bytes survive as surrogates),
    collecting the bytes of the record being parsed in ``record``."""
    for line in handle:
        if not record.raw:
            record.start = offset
        record.raw += line
        offset += len(line)
        yield line.decode("utf-8", "surrogateescape")


_SURROGATE = re.compile("[\udc80-\udcff]")


def _printable(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r\n")


def salvage_csv(alias: Path, spec: EntitySpec, max_line_bytes: int, scratch: Path,
                required: bool = False) -> tuple[SourceColumns, Source]:
    """Read the CSV record by record in Python and keep what can be kept.

    Used only when DuckDB's reader cannot read the file (or it is not all UTF-8): records with
    bytes that are not UTF-8, or a quoted field never closed at the end of the file, are listed as
    rejects (file row number, column when known, the record's text, a reason); the other records
    are written, with their row numbers, to a clean UTF-8 CSV that DuckDB reads as usual. Anything
    else (a record with the wrong number of fields, one longer than ``max_line_bytes``) rejects the
    file. Streaming: one record in memory at a time. Without anything to quarantine row by row
    raises :class:`SalvageNotApplicable` (unless ``required``).
    """
    names, delimiter = _csv_header(alias)
    columns = map_columns(names, spec)
    width = len(names)
    clean, rejects = scratch / "salvaged.csv", scratch / "rejects.csv"
    record = _Record(start=0, raw=b"")

    def fail(message: str):
        if not required:  # probing after DuckDB's error: that error stands
            raise SalvageNotApplicable()
        raise FileRejected(message)

    problems = 0
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(max_line_bytes, previous_limit))
    try:
        with open(alias, "rb") as handle, open(clean, "w", encoding="utf-8", newline="") as good, \
                open(rejects, "w", encoding="utf-8", newline="") as bad:
            base = 3 if handle.read(3) == UTF8_BOM else 0
            handle.seek(base)
            reader = csv.reader(_lines_with_offsets(handle, record, base), delimiter=delimiter, quotechar='"',
                                doublequote=True, strict=True)
            good_out = csv.writer(good, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a lone CR stays quoted
            bad_out = csv.writer(bad, lineterminator="\n", quoting=csv.QUOTE_ALL)
            bad_out.writerow(["row_number", "column", "value", "reason"])
            row_number = -1  # the header is record 0
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    row_number += 1
                    if "unexpected end of data" not in str(exc):
                        fail(f"unreadable CSV record at row {row_number}: {exc}")
                    closed = next(csv.reader(io.StringIO(record.raw.decode("utf-8", "surrogateescape") + '"',
                                                         newline=""), delimiter=delimiter, quotechar='"'), [])
                    column = names[len(closed) - 1] if 0 < len(closed) <= width else ""
                    if column:
                        column = normalize(column) if normalize(column) in columns.positions else column
                    bad_out.writerow([row_number, column, _printable(record.raw)[:REJECT_VALUE_CHARS],
                                      "unterminated quoted field: a quote opened"
                                      + (f" in {column}" if column else "")
                                      + " is never closed before the end of the file"])
                    problems += 1
                    break
                raw, start = record.raw, record.start
                record.raw = b""
                row_number += 1
                if len(raw) > max_line_bytes:
                    fail(f"row {row_number} is {len(raw):,} bytes long; the limit is {max_line_bytes:,} bytes")
                if row_number == 0:
                    good_out.writerow(["_row"] + [f"c{i}" for i in range(width)])
                    continue
                if not fields or fields == [""] and not raw.strip(b"\r\n"):
                    row_number -= 1   # a blank line is not a record (as in DuckDB's reader)
                    continue
                bad_field = next((i for i, f in enumerate(fields) if _SURROGATE.search(f)), None)
                if bad_field is not None:
                    try:
                        raw.decode("utf-8")
                        position, byte = 0, b""
                    except UnicodeDecodeError as exc:
                        position, byte = start + exc.start, raw[exc.start:exc.start + 1]
                    name = names[bad_field] if bad_field < width else ""
                    name = normalize(name) if normalize(name) in columns.positions else name
                    value = fields[bad_field].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                    bad_out.writerow([row_number, name, value[:REJECT_VALUE_CHARS],
                                      f"not valid UTF-8 (byte 0x{byte.hex()} at offset {position}; "
                                      "Latin-1/Windows-1252 exports look like this): save the file as UTF-8"])
                    problems += 1
                    continue
                if len(fields) != width:
                    fail(f"row {row_number} has {len(fields)} fields; the header has {width}")
                good_out.writerow([row_number] + fields)
    finally:
        csv.field_size_limit(previous_limit)
    if not problems and not required:
        raise SalvageNotApplicable()
    all_text = {"_row": "BIGINT", **{f"_c{i}": "VARCHAR" for i in range(width)}}
    options = "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', strict_mode = true"
    return columns, Source(
        f"read_csv($path, {options}, columns = $columns, max_line_size = $max_line)",
        {c: f"_c{i}" for c, i in columns.positions.items()},
        {"path": str(clean), "columns": all_text, "max_line": max(max_line_bytes, 1 << 20), "rejects": str(rejects),
         "reject_columns": {"row_number": "BIGINT", "column": "VARCHAR", "value": "VARCHAR", "reason": "VARCHAR"}},
        row_number="_row",
        rejects_sql=f"read_csv($rejects, {options}, columns = $reject_columns, max_line_size = $max_line)",
    )


def _csv_source(alias: Path, spec: EntitySpec, max_line_bytes: int) -> tuple[SourceColumns, Source]:
    names, delimiter = _csv_header(alias)
    columns = map_columns(names, spec)
    all_text = {f"_c{i}": "VARCHAR" for i in range(len(names))}
    source = (
        "read_csv($path, header = true, auto_detect = false, delim = $delim, quote = '\"', escape = '\"', "
        "columns = $columns, strict_mode = true, null_padding = false, max_line_size = $max_line)"
    )
    return columns, Source(source, {c: f"_c{i}" for c, i in columns.positions.items()},
                           {"path": str(alias), "delim": delimiter, "columns": all_text, "max_line": max_line_bytes})


# ----------------------------------------------------------------------------------------- Parquet

def _parquet_source(conn: duckdb.DuckDBPyConnection, alias: Path, spec: EntitySpec) -> tuple[SourceColumns, Source]:
    described = conn.execute("DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(alias)}).fetchall()
    names = [row[0] for row in described]
    types = [row[1] for row in described]
    columns = map_columns(names, spec)
    aliases = ", ".join(f"_c{i}" for i in range(len(names)))
    expressions = {
        c: (f"CAST(to_json(_c{i}) AS VARCHAR)" if _NESTED_TYPE.search(types[i]) else f"CAST(_c{i} AS VARCHAR)")
        for c, i in columns.positions.items()
    }
    return columns, Source(f"read_parquet($path) AS src({aliases})", expressions, {"path": str(alias)})


# -------------------------------------------------------------------------------------------- JSON

def _json_keys(conn: duckdb.DuckDBPyConnection, alias: Path) -> list[str] | None:
    """Top-level keys over the whole file, or None when the file holds no records at all."""
    try:
        described = conn.execute(
            "DESCRIBE SELECT * FROM read_json($path, records = true, maximum_depth = 1, sample_size = -1)",
            {"path": str(alias)},
        ).fetchall()
    except duckdb.BinderException as exc:
        if "expected records" not in str(exc):
            raise
        count = conn.execute("SELECT count(*) FROM read_json($path, records = false)",
                             {"path": str(alias)}).fetchone()[0]
        if count == 0:
            return None
        raise FileRejected("JSON must be an array of objects or one object per line (newline-delimited)") from exc
    return [row[0] for row in described]


def _json_source(conn: duckdb.DuckDBPyConnection, alias: Path, spec: EntitySpec) -> tuple[SourceColumns, Source]:
    keys = _json_keys(conn, alias)
    if keys is None:  # `[]` or only blank lines: a valid file without records
        return SourceColumns(names=[], positions={}), Source("(SELECT 1 WHERE false) AS src", {}, {})
    columns = map_columns(keys, spec)
    ordered = sorted(columns.positions.items(), key=lambda item: item[1])
    wanted = {keys[i]: "JSON" for _, i in ordered}
    aliases = ", ".join(f"_k{n}" for n in range(len(ordered)))
    expressions = {c: f"json_extract_string(_k{n}, '$')" for n, (c, _) in enumerate(ordered)}
    source = f"read_json($path, records = true, columns = $columns) AS src({aliases})"
    return columns, Source(source, expressions, {"path": str(alias), "columns": wanted})


# ------------------------------------------------------------------------------------------ common

def open_source(conn: duckdb.DuckDBPyConnection, alias: Path, fmt: str, spec: EntitySpec,
                max_line_bytes: int) -> tuple[SourceColumns, Source]:
    """Header/keys of the file at ``alias`` and how to read it; FileRejected if they are unusable."""
    if fmt == "csv":
        return _csv_source(alias, spec, max_line_bytes)
    if fmt == "parquet":
        return _parquet_source(conn, alias, spec)
    if fmt == "json":
        return _json_source(conn, alias, spec)
    raise ValueError(fmt)
