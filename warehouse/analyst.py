"""The analysts' path to a tenant's published snapshot: by slug or id, with helpful errors.

    from warehouse.analyst import connect
    with connect("northwind-records") as snap:          # a slug or a tenant id
        snap.query("SELECT * FROM top_performers WHERE rank <= ?", [3])   # a Polars DataFrame

``connect`` resolves the tenant (operational database; without one, the published snapshots'
``meta``) and opens its current version through warehouse/reader.py: the same engine-confined,
read-only DuckDB reader the dashboards use (only SELECT statements; another tenant's folder, other
files and ATTACH are refused by DuckDB). A query naming a table that does not exist fails with the
list of the tables that do.

The formatting functions below (``format_table``, ``format_csv``, ``format_json``,
``format_tables``) are pure; ``run_shell`` is the small REPL of ``auditoryx sql`` without a query.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb
import polars as pl

from auditoryx.errors import AuditoryxError, NotInitialized
from warehouse.layout import CURRENT_POINTER, META_TABLE, read_pointer, validate_tenant_id
from warehouse.mart_catalog import mart_docs
from warehouse.reader import SnapshotNotFound, TenantSnapshot, open_tenant_snapshot, open_version_folder

FORMATS = ("table", "csv", "json", "parquet")
NO_SCHEMA = "the operational database has no schema yet: run `auditoryx init`"
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist!?")
_TENANT_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class UnknownTable(AuditoryxError):
    """A query or a command named a table the snapshot does not have."""


class OperationalUnreadable(AuditoryxError):
    """The operational SQLite file exists but cannot be opened read-only."""


# Resolving a tenant

def resolve_tenant_id(slug_or_id: str, settings=None) -> str:
    """The tenant id of a slug or an id: from the operational database when there is one (an id
    wins over a slug), else from the published snapshots (a tenant folder, or the slug in a
    current version's ``meta``)."""
    if settings is None:
        from auditoryx.settings import get_settings

        settings = get_settings()
    key = (slug_or_id or "").strip()
    if not _TENANT_KEY.match(key):
        raise AuditoryxError(f"invalid tenant slug or id: {slug_or_id!r}")
    published_dir = Path(settings.published_dir)
    if (published_dir / key / CURRENT_POINTER).is_file():  # a published tenant's id: no database needed
        return validate_tenant_id(key)
    unreadable = None
    try:
        tenant_id = _from_operational(settings.operational_database_url, key)
    except OperationalUnreadable as error:
        tenant_id, unreadable = None, error
    if tenant_id is not None:
        return tenant_id
    tenant_id = _from_published(published_dir, key)
    if tenant_id is not None:
        return tenant_id
    if unreadable is not None:
        raise unreadable
    raise NotInitialized(NO_SCHEMA)


def _from_operational(url: str, key: str) -> str | None:
    """The id of the tenant whose id or slug is ``key``; None when there is no operational
    database (a missing SQLite file is never created, a database without the schema is skipped)
    or when a SQLite file cannot be read without writing (e.g. a WAL database in a read-only
    folder: the published snapshots answer then). Opened read-only: nothing is ever written."""
    from sqlalchemy import inspect, or_, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from operational.db import make_engine
    from operational.models import Organization

    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database not in (None, "", ":memory:") and not Path(parsed.database).is_file():
        return None
    engine = make_engine(url, read_only=sqlite and parsed.database not in (None, "", ":memory:"))
    try:
        if not inspect(engine).has_table("organizations"):
            return None
        with Session(engine) as session:
            rows = session.execute(select(Organization.id, Organization.slug)
                                   .where(or_(Organization.id == key, Organization.slug == key))).all()
    except OperationalError as error:
        if not sqlite:
            raise
        # e.g. a WAL database in a read-only folder (no -shm file to open): the snapshots may answer
        raise OperationalUnreadable(f"the operational database {parsed.database} cannot be read without "
                                    f"writing to its folder ({error.orig}), and no published snapshot "
                                    f"names {key!r}") from None
    finally:
        engine.dispose()
    for tenant_id, _slug in rows:
        if tenant_id == key:
            return tenant_id
    if rows:
        return rows[0][0]
    raise AuditoryxError(f"no tenant with slug or id {key!r}")


def _from_published(published_dir: Path, key: str) -> str | None:
    if (published_dir / key / CURRENT_POINTER).is_file():
        return validate_tenant_id(key)
    if not published_dir.is_dir():
        return None
    matches = []
    for folder in sorted(published_dir.iterdir()):
        if folder.name.startswith("_") or not (folder / CURRENT_POINTER).is_file():
            continue
        try:
            version = read_pointer(folder)
            meta = open_version_folder(folder.name, version, folder / version, tables=(META_TABLE,))
        except (AuditoryxError, OSError, duckdb.Error):
            continue
        try:
            if meta.query(f"SELECT count(*) FROM {META_TABLE} WHERE tenant_slug = ?", [key]).item():
                matches.append(folder.name)
        finally:
            meta.close()
    if len(matches) > 1:
        raise AuditoryxError(f"slug {key!r} names several published tenants ({', '.join(matches)}): use the id")
    return matches[0] if matches else None


# The analyst's snapshot

@dataclass
class ColumnInfo:
    name: str
    data_type: str
    description: str = ""


@dataclass
class TableInfo:
    name: str
    rows: int
    description: str = ""
    columns: list[ColumnInfo] = field(default_factory=list)


@dataclass
class AnalystSnapshot:
    """A tenant's confined, read-only snapshot (``snapshot``), with helpful errors and docs."""

    snapshot: TenantSnapshot

    @property
    def tenant_id(self) -> str:
        return self.snapshot.tenant_id

    @property
    def version(self) -> str:
        return self.snapshot.version

    @property
    def tables(self) -> tuple[str, ...]:
        return self.snapshot.tables

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """One SELECT with bound parameters → a Polars DataFrame; an unknown table → UnknownTable
        listing the tables that exist."""
        try:
            return self.snapshot.query(sql, params)
        except duckdb.CatalogException as error:
            found = _MISSING_TABLE.search(str(error))
            if found is None:
                raise
            raise UnknownTable(missing_table_message(found.group(1), self.tables)) from None

    def meta(self) -> dict[str, Any]:
        return self.snapshot.meta()

    def describe(self, table: str | None = None) -> list[TableInfo]:
        """Tables (or one table) with row counts, column types and their dbt descriptions."""
        if table is not None and table not in self.tables:
            raise UnknownTable(missing_table_message(table, self.tables))
        docs = mart_docs()
        infos = []
        for name in self.tables if table is None else (table,):
            doc = docs.get(name, {})
            columns = self.snapshot.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position", [name]).rows()
            rows = self.snapshot.query(f'SELECT count(*) FROM "{name}"').item()
            infos.append(TableInfo(name=name, rows=rows, description=doc.get("description", ""),
                                   columns=[ColumnInfo(c, t, doc.get("columns", {}).get(c, "")) for c, t in columns]))
        return infos

    def close(self) -> None:
        self.snapshot.close()

    def __enter__(self) -> AnalystSnapshot:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def connect(tenant: str, settings=None) -> AnalystSnapshot:
    """Open the current published snapshot of ``tenant`` (a slug or a tenant id), read-only."""
    if settings is None:
        from auditoryx.settings import get_settings

        settings = get_settings()
    tenant_id = resolve_tenant_id(tenant, settings)
    try:
        return AnalystSnapshot(open_tenant_snapshot(settings.published_dir, tenant_id))
    except SnapshotNotFound as error:
        if type(error) is SnapshotNotFound and tenant != tenant_id:
            raise SnapshotNotFound(f"no published snapshot for tenant {tenant} ({tenant_id}); "
                                   "run `auditoryx refresh`") from None
        raise


open_tenant = connect


def missing_table_message(table: str, tables: Iterable[str]) -> str:
    return (f"Table with name {table} does not exist! Tables: {', '.join(tables)} "
            "(`auditoryx tables --tenant …` lists their columns)")


# Pure formatting

def cell_text(value: Any, *, null: str = "NULL") -> str:
    """One value as text: ISO dates, exact decimals, lists as JSON, true/false."""
    if value is None:
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=_json_value, ensure_ascii=False)
    return str(value)


def format_table(frame: pl.DataFrame) -> str:
    """A plain aligned table (numbers right-aligned), never wrapped or truncated, with a row count."""
    headers = frame.columns
    numeric = [frame.schema[c].is_numeric() for c in headers]
    cells = [[cell_text(v).replace("\n", "\\n") for v in row] for row in frame.iter_rows()]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(list(headers)), "  ".join("-" * w for w in widths)] if headers else []
    out.extend(line(r) for r in cells)
    out.append(f"({frame.height} row{'s' if frame.height != 1 else ''})")
    return "\n".join(out) + "\n"


def format_csv(frame: pl.DataFrame) -> str:
    """CSV with a header; NULL is an empty field, lists are JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in frame.iter_rows():
        writer.writerow([cell_text(v, null="") for v in row])
    return buffer.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def format_json(frame: pl.DataFrame) -> str:
    """A JSON array with one object per row (one row a line); decimals are numbers."""
    rows = [json.dumps(row, default=_json_value, ensure_ascii=False) for row in frame.iter_rows(named=True)]
    return "[\n" + ",\n".join(rows) + "\n]\n" if rows else "[]\n"


def format_result(frame: pl.DataFrame, fmt: str) -> str:
    formatters: dict[str, Callable[[pl.DataFrame], str]] = {"table": format_table, "csv": format_csv,
                                                            "json": format_json}
    if fmt not in formatters:
        raise AuditoryxError(f"format {fmt!r} is not text: use one of {', '.join(formatters)}"
                             + (" (parquet needs --output FILE)" if fmt == "parquet" else ""))
    return formatters[fmt](frame)


def format_tables(infos: Iterable[TableInfo]) -> str:
    """Tables, their row counts and descriptions, then each column: name, type, description."""
    out = []
    for info in infos:
        out.append(f"{info.name} ({info.rows} row{'s' if info.rows != 1 else ''})")
        if info.description:
            out.append(f"  {info.description}")
        name_width = max((len(c.name) for c in info.columns), default=0)
        type_width = max((len(c.data_type) for c in info.columns), default=0)
        for column in info.columns:
            out.append(f"    {column.name.ljust(name_width)}  {column.data_type.ljust(type_width)}  "
                       f"{column.description}".rstrip())
        out.append("")
    return "\n".join(out)


def write_result(frame: pl.DataFrame, fmt: str, output: Path) -> Path:
    """Write the result to ``output`` (Parquet as Parquet, the other formats as UTF-8 text)."""
    output = Path(output)
    if fmt == "parquet":
        frame.write_parquet(output)
    else:
        output.write_text(format_result(frame, fmt), encoding="utf-8")
    return output


# The interactive shell

SHELL_HELP = """\
End each SQL statement with ';' (SELECT only; the snapshot is read-only).
  .tables           the tables with their descriptions
  .schema TABLE     the columns of TABLE with their types and descriptions
  .format FORMAT    table, csv or json
  .help             this text
  .quit             leave (also .exit or end of input)
"""


def run_shell(snap: AnalystSnapshot, lines: Iterable[str], write: Callable[[str], None],
              error: Callable[[str], None], fmt: str = "table") -> int:
    """Read statements (ending with ';') and dot-commands from ``lines``; write results with
    ``write`` and one-line errors with ``error``. Returns the number of failed commands."""
    failures = 0
    buffer: list[str] = []

    def run(statement: str) -> None:
        nonlocal failures
        try:
            write(format_result(snap.query(statement), fmt))
        except (AuditoryxError, duckdb.Error) as exc:
            failures += 1
            error(f"error: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}")

    for raw in lines:
        text = raw.rstrip("\n")
        if not buffer and text.strip().startswith("."):
            command, _, argument = text.strip().partition(" ")
            argument = argument.strip().rstrip(";").strip()
            if command in (".quit", ".exit"):
                return failures
            try:
                if command == ".tables":
                    docs = mart_docs()
                    width = max(len(t) for t in snap.tables)
                    write("".join(f"{t.ljust(width)}  {_first_sentence(docs.get(t, {}).get('description', ''))}"
                                  .rstrip() + "\n" for t in snap.tables))
                elif command == ".schema" and argument:
                    write(format_tables(snap.describe(argument)))
                elif command == ".format" and argument in ("table", "csv", "json"):
                    fmt = argument
                elif command == ".help":
                    write(SHELL_HELP)
                else:
                    raise AuditoryxError(f"unknown command {text.strip()!r} (.help lists the commands)")
            except AuditoryxError as exc:
                failures += 1
                error(f"error: {exc}")
            continue
        if not text.strip() and not buffer:
            continue
        buffer.append(text)
        if text.rstrip().endswith(";"):
            run("\n".join(buffer))
            buffer = []
    if "".join(buffer).strip():
        run("\n".join(buffer))
    return failures


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text
