"""Reading one dropped file as text columns, streaming.

Every format gives the same shape (a :class:`Source`): one VARCHAR expression per contract column
present in the file, over a ``FROM`` clause reading the file with DuckDB's
``read_csv``/``read_parquet``/``read_json``, which stream (nothing passes through Python rows;
:mod:`ingestion.files.validate` turns it into a typed temp table, spilling to disk when it
outgrows memory).

Columns are matched by header name (trimmed, case-insensitive), never by position; unknown names
are extras and ignored. Identifiers in the generated SQL are only our own (``_c<i>``, ``r_<col>``):
file column names only ever travel as bound parameters or positional aliases.
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


@dataclass(frozen=True)
class Source:
    """How to read the file: ``SELECT <expressions[col]> FROM <from_sql>`` with ``params`` bound."""

    from_sql: str
    expressions: dict[str, str]   # contract column → VARCHAR expression (absent columns: missing)
    params: dict


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
    return Preflight(checksum=digest.hexdigest(), size_bytes=offset, starts_with_bom=first.startswith(UTF8_BOM),
                     encoding_error=error)


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
    text = codecs.getincrementaldecoder("utf-8")().decode(head)  # validated already; drops a cut-off char
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
