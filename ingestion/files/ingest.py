"""File drops: ``<landing>/<tenant_id>/<entity>/*.{csv,parquet,json}`` → ``raw_files_<entity>``.

Tenant folders are named by the tenant's id, never its slug: a slug can be freed (tenant deleted)
and taken by another tenant, an id cannot, so files left behind by a deleted tenant are reported
as an unknown tenant instead of reaching whoever holds its old slug. The slug is only a display
name (results, messages). :func:`landing_folder` gives a tenant's folder.

One call processes every file waiting in the landing folder, each in its own transaction:

1. discover files (tenant folders sorted by id; per tenant artists → projects →
   project_milestones → bookings, so rows can reference rows dropped in the same batch);
2. hash the file (SHA-256, streaming; text formats are checked for UTF-8 in the same pass); a
   checksum already in ``file_registry`` for that tenant and entity is a ``skipped_duplicate``;
3. stream it into a staging table (:mod:`ingestion.files.readers`), validate and split it
   (:mod:`ingestion.files.validate`): good rows upserted by ``id``, bad rows quarantined;
4. record the file (``file_registry``) and the run (``ingestion_runs``) in the same transaction;
5. move the file to ``<archive>/<tenant_id>/<entity>/<UTC timestamp>__<checksum8>__<name>``;
6. append it to the journal ``<archive>/file_registry.jsonl`` (:mod:`ingestion.files.journal`),
   the durable registry outside the build database.

The build database is a cache: journal entries its ``file_registry`` lacks (a deleted or rebuilt
build database) are replayed first, from the archive, in the journal's order and with their
original batch times, so that the raw rows come out the same. A kill between the commit and the
move leaves a registry row naming an archive file that does not exist yet: when the same file is
met again (still in the landing folder, a duplicate), it is archived and the registry row and the
journal name the file where it now is.

Outcomes: ``ok`` (possibly with quarantined rows), ``rejected`` (nothing of the file is loaded:
unreadable, wrong encoding, over the size limit, missing required columns, unknown tenant or
entity folder…; a CSV whose only problems are records with bytes that are not UTF-8 or a quoted
field left open at the end is ``ok``: those records are quarantined, see
:func:`ingestion.files.readers.salvage_csv`), ``skipped_duplicate``, ``error`` (an unexpected failure: the transaction is rolled
back and the file stays in the landing folder for the next run). Nothing is ever deleted.

Files whose name starts with ``.`` or ``~`` or ends with ``.tmp``/``.part``/``.partial``/
``.crdownload``/``.filepart`` are uploads in progress and are left alone: upload under such a
name and rename when complete (or set ``FileDropLimits.min_age_seconds``).
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import duckdb

from ingestion.files.readers import (
    FileRejected,
    SalvageNotApplicable,
    SourceColumns,
    file_format,
    open_source,
    preflight,
    salvage_csv,
)
from ingestion.files.journal import JournalEntry, append_entries, format_time, read_journal
from ingestion.files.schema import ENTITIES, SPECS
from ingestion.files.tables import ensure_file_tables
from ingestion.files.validate import (
    LoadCounts,
    cleanup_session,
    drop_file_temps,
    prepare_session,
    stage_typed,
    validate_and_load,
)
from auditoryx.errors import AuditoryxError
from warehouse.layout import validate_tenant_id

Status = Literal["ok", "rejected", "skipped_duplicate", "error"]
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart")
_INFRASTRUCTURE_ERRORS = (
    duckdb.OutOfMemoryException, duckdb.IOException, duckdb.InterruptException, duckdb.FatalException,
    duckdb.InternalException, duckdb.ConnectionException, duckdb.TransactionException,
    duckdb.ParserException, duckdb.CatalogException, duckdb.BinderException,
)


@dataclass(frozen=True)
class FileDropLimits:
    max_file_bytes: int = 10 * 1024**3       # larger files are rejected unread
    max_field_chars: int = 65_536            # longest value of a column without a model length
    max_line_bytes: int = 8 * 1024**2        # longest CSV record (a longer one rejects the file)
    min_age_seconds: float = 0.0             # files modified more recently wait for the next run
    # DuckDB memory while files are ingested (they stream into temporary tables that spill to the
    # build database's temporary folder beyond it); None: DuckDB's default (80 % of RAM)
    memory_limit: str | None = "1GB"


@dataclass(frozen=True)
class FileDropResult:
    source: str                      # 'file:<tenant_id>/<entity>/<name>' (relative to the landing folder)
    status: Status
    run_id: str
    tenant_slug: str | None = None   # display name of a known tenant
    tenant_id: str | None = None
    entity: str | None = None
    checksum: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    notes: str | None = None
    archived_to: Path | None = None  # absolute; None when the file stays in the landing folder


@dataclass
class FileDropReport:
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    files: list[FileDropResult] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)   # uploads in progress / too recent, untouched
    ignored: list[str] = field(default_factory=list)   # e.g. symbolic links to folders (not followed)
    replayed: list[FileDropResult] = field(default_factory=list)  # archived files loaded again (journal)

    def with_status(self, status: Status) -> list[FileDropResult]:
        return [f for f in self.files if f.status == status]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def has_errors(self) -> bool:
        return any(f.status == "error" for f in self.files)

    @property
    def tenants_changed(self) -> list[str]:
        """Tenants whose file tables changed (rows loaded or quarantined): refresh these."""
        return sorted({f.tenant_id for f in [*self.files, *self.replayed]
                       if f.tenant_id and f.status == "ok" and (f.rows_loaded or f.rows_quarantined)})


@dataclass
class _Candidate:
    path: Path
    rel: PurePosixPath
    folder: str | None = None      # first path part: the tenant id folder (not yet checked)
    slug: str | None = None        # display name of the known tenant
    tenant_id: str | None = None
    entity: str | None = None
    fmt: str | None = None
    problem: str | None = None     # set: rejected without reading
    replay: JournalEntry | None = None  # set: an archived file loaded again (not moved, not journaled)

    @property
    def source(self) -> str:
        return f"file:{self.rel.as_posix()}"

    def order(self) -> tuple:
        known = self.problem is None
        return (not known, self.folder or "", ENTITIES.index(self.entity) if known else 0, self.rel.as_posix())


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(dt.timezone.utc)


def _clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _in_progress(name: str) -> bool:
    return name.startswith((".", "~")) or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def landing_folder(landing_dir: Path, tenant_id: str) -> Path:
    """``<landing>/<tenant_id>``: where the tenant drops its files (one sub-folder per entity).

    The id is validated before it becomes a path; the slug never names a folder.
    """
    return Path(landing_dir) / validate_tenant_id(tenant_id)


def _known_tenant_ids(tenants: Mapping[str, str]) -> dict[str, str]:
    """``tenants`` (tenant id → slug) with every id checked: a bad id is a caller error."""
    return {validate_tenant_id(tenant_id): slug for tenant_id, slug in tenants.items()}


def discover(landing_dir: Path, tenants: Mapping[str, str], limits: FileDropLimits,
             report: FileDropReport) -> list[_Candidate]:
    """Every file under the landing folder, classified; in processing order (``tenants``: id → slug)."""
    candidates: list[_Candidate] = []
    if not landing_dir.is_dir():
        return candidates
    now = time.time()
    for root, dirs, files in os.walk(landing_dir, followlinks=False):
        root_path = Path(root)
        for name in sorted(dirs):
            if (root_path / name).is_symlink():
                report.ignored.append(f"{(root_path / name).relative_to(landing_dir).as_posix()}: "
                                      "symbolic link to a folder (not followed)")
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (root_path / d).is_symlink())
        for name in sorted(files):
            path = root_path / name
            rel = PurePosixPath(path.relative_to(landing_dir).as_posix())
            if any(_in_progress(part) for part in rel.parts):
                report.waiting.append(rel.as_posix())
                continue
            try:
                if not path.is_symlink() and now - path.stat().st_mtime < limits.min_age_seconds:
                    report.waiting.append(rel.as_posix())
                    continue
            except FileNotFoundError:  # vanished meanwhile
                continue
            candidates.append(_classify(path, rel, tenants))
    return sorted(candidates, key=_Candidate.order)


def _is_tenant_id(name: str) -> bool:
    try:
        validate_tenant_id(name)
    except AuditoryxError:
        return False
    return True


def _classify(path: Path, rel: PurePosixPath, tenants: Mapping[str, str]) -> _Candidate:
    candidate = _Candidate(path=path, rel=rel)
    parts = rel.parts
    if len(parts) >= 2:
        candidate.folder = parts[0]
    if len(parts) != 3:
        candidate.problem = (f"files must be placed in <tenant id>/<entity>/ "
                             f"(entities: {', '.join(ENTITIES)}); found {rel.as_posix()!r}")
        return candidate
    folder, entity, name = parts
    if not _is_tenant_id(folder):
        candidate.problem = f"folder {folder!r} is not a valid tenant id"
    elif folder not in tenants:
        candidate.problem = (f"unknown tenant {folder!r} "
                             "(landing folders are named by tenant id: see `auditoryx landing`)")
    else:
        candidate.tenant_id, candidate.slug = folder, tenants[folder]
    if candidate.problem is None and entity not in ENTITIES:
        candidate.problem = f"unknown entity folder {entity!r} (expected one of {', '.join(ENTITIES)})"
    if candidate.problem is None:
        candidate.entity = entity
        candidate.fmt = file_format(path)
        if path.is_symlink():
            candidate.problem = "symbolic links are not accepted: drop the file itself"
        elif candidate.fmt is None:
            candidate.problem = (f"unsupported file type {path.suffix or '(none)'!r} "
                                 "(expected .csv, .parquet or .json)")
    return candidate


def _clean_error(exc: BaseException, alias: Path | None, rel: str) -> str:
    text = str(exc)
    if alias is not None:
        text = text.replace(str(alias), rel)
    text = re.split(r"\n\s*(?:Possible (?:fixes|Solution)|LINE \d|Try setting)", text)[0]
    text = re.sub(r"^(Invalid Input|Conversion|Invalid Configuration|Not implemented) Error: ", "", text)
    text = " ".join(text.split())
    return text if len(text) <= 500 else text[:500] + "…"


class _Ingestion:
    def __init__(self, conn: duckdb.DuckDBPyConnection, archive_dir: Path, now: dt.datetime,
                 limits: FileDropLimits, scratch: Path):
        self.conn = conn
        self.archive_dir = archive_dir
        self.now = now
        self.limits = limits
        self.scratch = scratch
        self.stamp = now.strftime("%Y%m%dT%H%M%SZ")

    # ---------------------------------------------------------------------------------- records
    def _record_run(self, c: _Candidate, run_id: str, status: Status, started: dt.datetime,
                    checksum: str | None, counts: LoadCounts | None = None, error: str | None = None,
                    notes: str | None = None) -> None:
        counts = counts or LoadCounts(0, 0, 0)
        self.conn.execute(
            "INSERT INTO ingestion_runs (run_id, source, tenant_id, entity, started_at, ended_at, rows_read, "
            "rows_loaded, rows_quarantined, status, error, notes, checksum) "
            "VALUES ($run_id, $source, $tenant, $entity, $started, $ended, $read, $loaded, $quarantined, "
            "$status, $error, $notes, $checksum)",
            {"run_id": run_id, "source": c.source, "tenant": c.tenant_id, "entity": c.entity, "started": started,
             "ended": _clock(), "read": counts.rows_read, "loaded": counts.rows_loaded,
             "quarantined": counts.rows_quarantined, "status": status, "error": error, "notes": notes,
             "checksum": checksum},
        )

    def _register(self, c: _Candidate, run_id: str, status: Status, checksum: str, size: int,
                  counts: LoadCounts, error: str | None, archived: Path | None) -> None:
        self.conn.execute(
            "INSERT INTO file_registry (tenant_id, entity, checksum, file, file_name, size_bytes, status, rows_read, "
            "rows_loaded, rows_quarantined, error, run_id, registered_at, archived_to) "
            "VALUES ($tenant, $entity, $checksum, $file, $name, $size, $status, $read, $loaded, $quarantined, "
            "$error, $run_id, $now, $archived)",
            {"tenant": c.tenant_id, "entity": c.entity, "checksum": checksum, "file": c.rel.as_posix(),
             "name": c.rel.name, "size": size, "status": status, "read": counts.rows_read,
             "loaded": counts.rows_loaded, "quarantined": counts.rows_quarantined, "error": error,
             "run_id": run_id, "now": self.now,
             "archived": archived.relative_to(self.archive_dir).as_posix() if archived else None},
        )

    def _in_transaction(self, work: Callable[[], None]) -> None:
        self.conn.execute("BEGIN TRANSACTION")
        try:
            work()
            self.conn.execute("COMMIT")
        except BaseException:
            try:
                self.conn.execute("ROLLBACK")
            except duckdb.Error:  # already rolled back by DuckDB: keep the original error
                pass
            raise

    # ---------------------------------------------------------------------------------- archive
    def _archive_path(self, c: _Candidate, checksum: str | None) -> Path:
        label = checksum[:8] if checksum else "unhashed"
        folder = self.archive_dir.joinpath(*c.rel.parent.parts)
        base = f"{self.stamp}__{label}__{c.rel.name}"
        target, n = folder / base, 1
        while target.exists() or target.is_symlink():
            n += 1
            target = folder / f"{self.stamp}-{n}__{label}__{c.rel.name}"
        return target

    @staticmethod
    def _move(source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(source, target)
        except OSError:  # another file system: copy then remove the original (still a move)
            shutil.move(str(source), str(target))

    # ---------------------------------------------------------------------------------- journal
    def _entry(self, c: _Candidate, status: Status, checksum: str, size: int, error: str | None,
               archived: Path) -> JournalEntry:
        return JournalEntry(tenant_id=c.tenant_id or "", entity=c.entity or "", checksum=checksum,
                            file=c.rel.as_posix(), archived_to=archived.relative_to(self.archive_dir).as_posix(),
                            status=status, error=error, batch_time=format_time(self.now), size_bytes=size)

    def _journal(self, entry: JournalEntry) -> None:
        append_entries(self.archive_dir, [entry])

    def _repair_archive(self, entry: JournalEntry, archived: Path) -> None:
        relative = archived.relative_to(self.archive_dir).as_posix()
        self.conn.execute("UPDATE file_registry SET archived_to = $archived "
                          "WHERE tenant_id = $tenant AND entity = $entity AND checksum = $checksum",
                          {"archived": relative, "tenant": entry.tenant_id, "entity": entry.entity,
                           "checksum": entry.checksum})
        if entry.key not in {e.key for e in read_journal(self.archive_dir)}:
            self._journal(JournalEntry(**{**entry.__dict__, "archived_to": relative}))

    # ---------------------------------------------------------------------------------- outcomes
    def _finish(self, c: _Candidate, run_id: str, status: Status, started: dt.datetime, checksum: str | None,
                size: int | None = None, error: str | None = None, notes: str | None = None,
                register: bool = False, work: Callable[[], tuple[LoadCounts, str | None]] | None = None,
                repair: JournalEntry | None = None) -> FileDropResult:
        """Record the outcome in one transaction (with ``work``: the load itself), then archive."""
        archived = (self.archive_dir / c.replay.archived_to) if c.replay else self._archive_path(c, checksum)
        outcome: dict = {"counts": LoadCounts(0, 0, 0), "notes": notes}

        def transaction() -> None:
            if work is not None:
                outcome["counts"], outcome["notes"] = work()
            if register and checksum is not None and c.tenant_id and c.entity:
                self._register(c, run_id, status, checksum, size or 0, outcome["counts"], error, archived)
            self._record_run(c, run_id, status, started, checksum, outcome["counts"], error, outcome["notes"])

        self._in_transaction(transaction)
        if c.replay is None:
            try:
                self._move(c.path, archived)
            except OSError as exc:  # recorded already; the next run sees a duplicate and archives it then
                outcome["notes"] = "; ".join(filter(None, [outcome["notes"], f"could not archive: {exc}"]))
                archived = None
        journaled = register and checksum is not None and c.tenant_id and c.entity
        if archived is not None and c.replay is None and (journaled or repair is not None):
            try:
                if repair is not None:  # the registered row named an archive file a kill left unwritten
                    self._repair_archive(repair, archived)
                else:
                    self._journal(self._entry(c, status, checksum, size or 0, error, archived))
            except (OSError, duckdb.Error) as exc:  # the next run adds what is missing (reconcile_journal)
                outcome["notes"] = "; ".join(filter(None, [outcome["notes"], f"not journaled: {exc}"]))
        counts = outcome["counts"]
        return FileDropResult(
            source=c.source, status=status, run_id=run_id, tenant_slug=c.slug, tenant_id=c.tenant_id,
            entity=c.entity, checksum=checksum, rows_read=counts.rows_read, rows_loaded=counts.rows_loaded,
            rows_quarantined=counts.rows_quarantined, error=error, notes=outcome["notes"], archived_to=archived,
        )

    def _reject(self, c: _Candidate, run_id: str, started: dt.datetime, checksum: str | None, size: int | None,
                reason: str) -> FileDropResult:
        return self._finish(c, run_id, "rejected", started, checksum, size=size, error=reason, register=True)

    # ---------------------------------------------------------------------------------- one file
    def process(self, c: _Candidate) -> FileDropResult:
        run_id = str(uuid.uuid4())
        started = _clock()
        try:
            return self._process(c, run_id, started)
        except Exception as exc:  # noqa: BLE001 - recorded, the file stays for the next run
            message = f"{exc.__class__.__name__}: {_clean_error(exc, None, c.rel.as_posix())}"
            self._in_transaction(lambda: self._record_run(c, run_id, "error", started, None, error=message))
            return FileDropResult(source=c.source, status="error", run_id=run_id, tenant_slug=c.slug,
                                  tenant_id=c.tenant_id, entity=c.entity, error=message)

    def _process(self, c: _Candidate, run_id: str, started: dt.datetime) -> FileDropResult:
        if c.path.is_symlink():
            return self._reject(c, run_id, started, None, None, c.problem or "symbolic links are not accepted")
        size = c.path.stat().st_size
        if size > self.limits.max_file_bytes:
            return self._reject(c, run_id, started, None, size,
                                f"file is {size:,} bytes; the limit is {self.limits.max_file_bytes:,} bytes")
        check = preflight(c.path, c.fmt if c.problem is None else None)
        if c.problem is not None:
            return self._reject(c, run_id, started, check.checksum, size, c.problem)
        if c.replay is not None and check.checksum != c.replay.checksum:
            raise AuditoryxError(f"archived file {c.path} has changed since it was loaded "
                                 f"(checksum {check.checksum[:12]}…, journal {c.replay.checksum[:12]}…)")
        previous = self.conn.execute(
            "SELECT file, status, registered_at, archived_to, error, size_bytes, registered_at FROM file_registry "
            "WHERE tenant_id = $tenant AND entity = $entity AND checksum = $checksum",
            {"tenant": c.tenant_id, "entity": c.entity, "checksum": check.checksum},
        ).fetchone()
        if previous is not None:
            note = (f"same content as {previous[0]} registered at "
                    f"{previous[2].astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} (status {previous[1]})")
            repair = None
            if previous[3] is None or not (self.archive_dir / previous[3]).is_file():
                # a kill after the commit, before the move: this is that file; the registry and the
                # journal will name the archive file it is moved to now
                repair = JournalEntry(c.tenant_id, c.entity, check.checksum, previous[0], "", previous[1],
                                      previous[4], format_time(previous[6]), int(previous[5]))
            return self._finish(c, run_id, "skipped_duplicate", started, check.checksum, notes=note, repair=repair)
        if size == 0:
            return self._reject(c, run_id, started, check.checksum, size, "file is empty (0 bytes)")
        if check.encoding_error and not check.row_level:
            return self._reject(c, run_id, started, check.checksum, size, check.encoding_error)
        return self._load(c, run_id, started, check.checksum, size, check.starts_with_bom,
                          salvage=check.encoding_error is not None)

    def _alias(self, c: _Candidate, strip_bom: bool) -> Path:
        """A path DuckDB reads literally (no glob characters from tenant file names)."""
        alias = self.scratch / f"input.{c.fmt}"
        if alias.exists() or alias.is_symlink():
            alias.unlink()
        if strip_bom:  # DuckDB's JSON reader does not skip a byte-order mark
            with open(c.path, "rb") as source, open(alias, "wb") as target:
                source.seek(3)
                shutil.copyfileobj(source, target, 1 << 20)
        else:
            alias.symlink_to(c.path.resolve())
        return alias

    def _stage_salvaged(self, alias: Path, spec, original: FileRejected | None) -> SourceColumns:
        """Read a CSV record by record, rejects listed apart (see :func:`readers.salvage_csv`)."""
        salvage_dir = self.scratch / "salvage"
        salvage_dir.mkdir(exist_ok=True)
        try:
            columns, source = salvage_csv(alias, spec, self.limits.max_line_bytes, salvage_dir,
                                          required=original is None)
        except SalvageNotApplicable:
            raise original from None
        stage_typed(self.conn, spec, source, self.now)
        return columns

    def _load(self, c: _Candidate, run_id: str, started: dt.datetime, checksum: str, size: int,
              bom: bool, salvage: bool = False) -> FileDropResult:
        spec = SPECS[c.entity]
        alias = self._alias(c, strip_bom=bom and c.fmt == "json")
        file = c.rel.as_posix()
        try:
            try:
                # staging only fills a temp table: outside the transaction, so that a reader error
                # cannot abort it
                if salvage:  # a CSV with bytes that are not UTF-8: those records are quarantined
                    columns = self._stage_salvaged(alias, spec, None)
                else:
                    columns, source = open_source(self.conn, alias, c.fmt, spec, self.limits.max_line_bytes)
                    stage_typed(self.conn, spec, source, self.now)
            except (FileRejected, *_INFRASTRUCTURE_ERRORS):
                raise
            except duckdb.Error as exc:  # the reader could not parse the file
                kind = {"csv": "CSV", "parquet": "Parquet", "json": "JSON"}[c.fmt]
                rejected = FileRejected(f"not a readable {kind} file: {_clean_error(exc, alias, file)}")
                if c.fmt != "csv" or salvage:
                    raise rejected from exc
                # an unterminated quoted field at the end is quarantined with the rest loaded;
                # any other malformation keeps the file rejected
                drop_file_temps(self.conn)
                columns = self._stage_salvaged(alias, spec, rejected)
        except FileRejected as exc:
            drop_file_temps(self.conn)
            return self._reject(c, run_id, started, checksum, size, str(exc))
        finally:
            if alias.exists() or alias.is_symlink():
                alias.unlink()
        notes: list[str] = []
        if columns.extras:
            notes.append("ignored extra columns: " + ", ".join(repr(e) for e in columns.extras))
        absent = [n for n in spec.names if n not in columns.present and n != "org_id"]
        if not columns.names:
            notes.append("file contains no records")
        elif absent:
            notes.append("columns not in the file (defaults or NULL used): " + ", ".join(absent))

        def work() -> tuple[LoadCounts, str | None]:
            counts = validate_and_load(self.conn, spec, tenant_id=c.tenant_id, tenant_slug=c.slug, file=file,
                                       checksum=checksum, run_id=run_id, now=self.now,
                                       max_field_chars=self.limits.max_field_chars)
            return counts, "; ".join(notes) or None

        try:
            return self._finish(c, run_id, "ok", started, checksum, size=size, register=True, work=work)
        finally:
            drop_file_temps(self.conn)


def _setting(conn: duckdb.DuckDBPyConnection, name: str) -> str:
    return str(conn.execute("SELECT current_setting($name)", {"name": name}).fetchone()[0])


def _restore_memory_limit(conn: duckdb.DuckDBPyConnection, shown: str) -> None:
    """Put back the cap that was shown as ``shown`` ('1.8 GiB'): DuckDB's default, or the build
    database's configured cap (exact), or else the shown value itself (DuckDB rounds it down when
    displaying, so setting the display would shrink the cap a little on every run)."""
    from warehouse.build_db import memory_limit

    for statement in ("RESET memory_limit", f"SET memory_limit = {_literal(memory_limit())}"):
        conn.execute(statement)
        if _setting(conn, "memory_limit") == shown:
            return
    conn.execute(f"SET memory_limit = {_literal(shown)}")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ingest_file_drops(
    conn: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    archive_dir: Path,
    tenants: Mapping[str, str],
    *,
    now: dt.datetime | None = None,
    limits: FileDropLimits | None = None,
) -> FileDropReport:
    """Ingest every file waiting under ``landing_dir`` (see the module docstring).

    ``tenants`` maps tenant id → tenant slug: the ids name the tenants' landing folders
    (``<landing>/<tenant_id>/<entity>/``), the slugs are only shown in results and messages.
    ``now`` (timezone-aware; default: the current time) is the load time of the batch:
    ``_loaded_at``, default ``created_at``/``updated_at``, the archive timestamp. Call outside a transaction, as the build database's single writer.
    """
    batch_time = _utc(now)
    limits = limits or FileDropLimits()
    landing_dir, archive_dir = Path(landing_dir).resolve(), Path(archive_dir).resolve()
    tenants = _known_tenant_ids(tenants)
    report = FileDropReport(started_at=_clock())
    ensure_file_tables(conn)
    journal = reconcile_journal(conn, archive_dir, landing_dir)
    replays = _replay_candidates(conn, archive_dir, journal, tenants, report)
    candidates = discover(landing_dir, tenants, limits, report)
    if not candidates and not replays:
        report.ended_at = _clock()
        return report
    saved = {name: _setting(conn, name) for name in ("TimeZone", "preserve_insertion_order", "memory_limit")}
    if limits.memory_limit:
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limits.memory_limit):
            raise ValueError(f"memory_limit must look like '512MB' or '2GB', got {limits.memory_limit!r}")
        conn.execute(f"SET memory_limit = {_literal(limits.memory_limit)}")
    conn.execute("SET TimeZone = 'UTC'")              # naive timestamps in files are UTC
    conn.execute("SET preserve_insertion_order = true")  # row numbers follow the file
    prepare_session(conn)
    try:
        with tempfile.TemporaryDirectory(prefix="auditoryx-drops-") as scratch:
            for candidate in replays:  # first, as they came: later files may build on their rows
                replaying = _Ingestion(conn, archive_dir, candidate.replay.batch_datetime, limits, Path(scratch))
                report.replayed.append(replaying.process(candidate))
            ingestion = _Ingestion(conn, archive_dir, batch_time, limits, Path(scratch))
            for candidate in candidates:
                report.files.append(ingestion.process(candidate))
    finally:
        cleanup_session(conn)
        conn.execute(f"SET TimeZone = {_literal(saved['TimeZone'])}")
        conn.execute(f"SET preserve_insertion_order = {_literal(saved['preserve_insertion_order'])}")
        _restore_memory_limit(conn, saved["memory_limit"])
    report.ended_at = _clock()
    return report


def _registered(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(
        "SELECT tenant_id, entity, checksum, file, archived_to, status, error, registered_at, size_bytes "
        "FROM file_registry ORDER BY registered_at, run_id").fetchall()


def reconcile_journal(conn: duckdb.DuckDBPyConnection, archive_dir: Path,
                      landing_dir: Path | None = None) -> list[JournalEntry]:
    """The journal, completed with the registered files it lacks whose archive file exists (a kill
    after the move, before the journal line); returns it, in order. A registered file the journal
    lacks that is neither in the archive nor still in ``landing_dir`` (a kill before the move, then
    the upload removed) no longer names an archive file (``archived_to`` NULL). Only rows the
    journal lacks are looked at: journaled files were archived before their line was written."""
    journal = read_journal(archive_dir)
    known = {entry.key for entry in journal}
    missing: list[JournalEntry] = []
    for tenant_id, entity, checksum, file, archived_to, status, error, registered_at, size in _registered(conn):
        if (tenant_id, entity, checksum) in known or not archived_to:
            continue
        if (Path(archive_dir) / archived_to).is_file():
            missing.append(JournalEntry(tenant_id, entity, checksum, file, archived_to, status, error,
                                        format_time(registered_at), int(size)))
        elif landing_dir is not None and not (Path(landing_dir) / file).is_file():
            conn.execute("UPDATE file_registry SET archived_to = NULL "
                         "WHERE tenant_id = $tenant AND entity = $entity AND checksum = $checksum",
                         {"tenant": tenant_id, "entity": entity, "checksum": checksum})
    if missing:
        append_entries(archive_dir, missing)
    return [*journal, *missing]


def tenants_to_replay(conn: duckdb.DuckDBPyConnection, archive_dir: Path) -> list[str]:
    """Tenants with journaled files the build database has not loaded (mark them pending first)."""
    ensure_file_tables(conn)
    registered = {(t, e, c) for t, e, c, *_ in _registered(conn)}
    return sorted({entry.tenant_id for entry in read_journal(archive_dir) if entry.key not in registered})


def _replay_candidates(conn: duckdb.DuckDBPyConnection, archive_dir: Path, journal: list[JournalEntry],
                       tenants: Mapping[str, str], report: FileDropReport) -> list[_Candidate]:
    """The journal's files that ``file_registry`` lacks, in the journal's order, read from the archive."""
    registered = {(t, e, c) for t, e, c, *_ in _registered(conn)}
    candidates = []
    for entry in journal:
        if entry.key in registered:
            continue
        if entry.tenant_id not in tenants:
            continue  # a tenant that is gone: its rows would leave the warehouse anyway
        path = archive_dir / entry.archived_to
        if not path.is_file() or entry.entity not in ENTITIES:
            report.ignored.append(f"journal entry {entry.file}: archived file {entry.archived_to} is missing; "
                                  "its rows are not in the build database")
            continue
        candidates.append(_Candidate(path=path, rel=PurePosixPath(entry.file), folder=entry.tenant_id,
                                     slug=tenants[entry.tenant_id], tenant_id=entry.tenant_id, entity=entry.entity,
                                     fmt=file_format(path), replay=entry))
    return candidates
