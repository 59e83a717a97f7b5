"""Run the dbt project in-process against a DuckDB build database.

dbt writes its artifacts (``target/``) and logs under ``work_dir``, never into the repository.
The build database is handed to the profile through ``AUDITORYX_BUILD_DB`` for the duration of
the call only; nothing is read from the environment at import time.

Incremental models (``int_bookings_enriched``) only look at bookings whose source rows changed.
What they cannot see is a change of the project itself (models, macros, the FX seed) or of the
engine: ``build_all`` keeps a fingerprint of those in the build database
(``main.dbt_build_state``) and runs with ``--full-refresh`` whenever it differs from the one of
the last successful build (or there is none).

Data tests: a build of the whole project (``build_planned``) runs its models in dbt and its data
tests afterwards as plain SQL statements, compiled once per project and as-of date
(warehouse/data_tests.py): dbt's per-node bookkeeping cost more than the tests' queries.

Tenant isolation: data tests warn instead of failing dbt (``dbt_project.yml``), so one tenant's
bad rows never stop the models of the others. After the build, each test that found rows is run
again as ``SELECT tenant_id, count(*) FROM (<its compiled SQL>)`` (``attribute_failures``): the
tenants it names are recorded as failed with the reasons (``main.tenant_build_failures``) and stay
pending, so every later build checks them again until they pass; publishing skips them (they keep
their last good version). A failing test whose rows name no tenant (the FX seed's own tests, a
test without a ``tenant_id`` column) still fails the whole build. Tests marked
``meta: {advisory: true}`` only warn.

    python -m warehouse.dbt_runner docs   # dbt docs for the settings' build database (Makefile `docs`)
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
import time
from importlib import metadata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from auditoryx.errors import AuditoryxError
from ingestion.raw_schema import RAW_TABLES
from warehouse.build_db import (build_connection, closing_quietly, connect_build, one_connection, quote_identifier,
                                transaction)
from warehouse.data_tests import (SCOPE_FROM_VARIABLE_ENV, DataTestResult, add_to_run_results, bind_scope,
                                  compiled_tests, run_tests, select_tests)
from warehouse.pending import build_scope, clear_pending, mark_pending, row_scope, scope_tables
from warehouse.unpublished import mark_unpublished

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
BUILD_DB_ENV = "AUDITORYX_BUILD_DB"
# The tenants a build is limited to (warehouse/pending.py), comma-separated; read by
# dbt_project/macros/tenant_scope.sql at execution time only. An environment variable rather
# than a dbt var: a changed var makes dbt re-parse the whole project (~3 s) on every build.
TENANT_SCOPE_ENV = "AUDITORYX_TENANT_SCOPE"
# The tenants of that scope whose changed bookings are known row by row (warehouse/pending.py,
# ``rows_known``): int_bookings_enriched looks only at those rows for them. Same format.
ROW_SCOPE_ENV = "AUDITORYX_ROW_SCOPE"
# what the bookings model reads besides raw bookings: a change there touches all a tenant's rows
BOOKINGS_MODEL_ALSO_READS = ("organizations",)

# Statuses of dbt node results that make a run fail (see dbt.artifacts.schemas.results).
_FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
_MAX_MESSAGE = 160
# commands whose invocations write run_results.json but not manifest.json (see invoke_dbt)
_RESULTS_ONLY_COMMANDS = frozenset({"build", "run", "test"})
_MAX_LISTED = 5

# dbt keeps process-wide state (flags, adapters, invocation context) and the profile reads an
# environment variable: one invocation at a time per process (re-entrant: build_all holds it
# around reading the build state, the invocation and recording the new state).
_LOCK = threading.RLock()

INCREMENTAL_SELECTOR = "incremental_build"  # dbt_project/selectors.yml
STATE_TABLE = "dbt_build_state"  # in schema main of the build database
FAILURES_TABLE = "tenant_build_failures"  # in schema main: tenants whose rows failed a data test
_MAX_SAMPLE = 200
_FINGERPRINT_SUFFIXES = frozenset({".sql", ".yml", ".yaml", ".csv"})
_FINGERPRINT_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _release_build_database(*, vacuum: bool = True) -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an invocation.

    dbt-duckdb caches one environment (and its DuckDB connection) per process; left open, it
    holds the file lock and makes any later ``duckdb.connect(build_db, ...)`` with another
    configuration (read_only, another process) fail.

    Closing checkpoints the database. ``vacuum=False`` skips DuckDB's vacuum in that checkpoint:
    after an incremental model deleted and re-inserted a few thousand rows of a 10M-row table,
    merging its row groups costs ~0.6 s, on the path of a one-tenant refresh. The next build
    over every tenant (at the latest the first of a new as-of day) vacuums them.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            connection = getattr(environment, "conn", None)
            if not vacuum and connection is not None:
                connection.execute("SET max_vacuum_tasks = 0")  # this database instance only
            environment.close()
        DuckDBConnectionManager.close_all_connections()


def _one_line(text: object, limit: int = _MAX_MESSAGE) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _failure_summary(command: str, result: object) -> str:
    """One line naming the failed nodes and tests (or the exception) of a dbt invocation."""
    exception = getattr(result, "exception", None)
    if exception is not None:
        return f"dbt {command} failed: {_one_line(exception, 300)}"

    failures: list[str] = []
    skipped = 0
    for node_result in getattr(getattr(result, "result", None), "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status))
        if status == "skipped":
            skipped += 1
        if status not in _FAILED_STATUSES:
            continue
        node = node_result.node
        failures.append(_failed_node(node.resource_type, node.name, status, node_result.message))
    return _failures_listed(command, failures, skipped)


def _failed_node(resource_type: str, name: str, status: str, message: str | None) -> str:
    return f"{resource_type} {name} ({status}: {_one_line(message or status)})"


def _failures_listed(command: str, failures: Sequence[str], skipped: int = 0) -> str:
    if not failures:
        return f"dbt {command} failed (no failing node reported; see the dbt log)"
    listed = "; ".join(failures[:_MAX_LISTED])
    more = f"; and {len(failures) - _MAX_LISTED} more" if len(failures) > _MAX_LISTED else ""
    skipped_text = f"; {skipped} skipped" if skipped else ""
    return f"dbt {command} failed, {len(failures)} failing: {listed}{more}{skipped_text}"


def dbt_flags(*, work_dir: Path, as_of: dt.date, threads: int, target_dir: Path | None = None) -> list[str]:
    """The flags every invocation gets: project, profile, output folders and the as-of date."""
    return [
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_dir or work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        # info, not debug: the file log then holds results and errors but not every statement,
        # ~10 % of a build's time (the statements are in target/run and target/compiled)
        "--log-level-file", "info",
        # the console shows only warnings and errors (the file log, <work_dir>/logs/dbt.log, has
        # every node's result); refresh prints its own progress lines
        "--log-level", "warn",
        "--vars", json.dumps({"as_of": as_of.isoformat()}),
        "--threads", str(threads),
        "--no-send-anonymous-usage-stats",
        "--no-use-colors",
    ]


@dataclass(frozen=True)
class FailedTest:
    """A data test that found rows (dbt status ``warn``; see the module docstring)."""
    name: str
    failures: int | None
    message: str
    compiled_code: str | None


@dataclass(frozen=True)
class DbtOutcome:
    failure: str | None  # one line naming what failed dbt itself (model errors…), None on success
    failed_tests: tuple[FailedTest, ...] = ()  # data tests with failing rows, to attribute to tenants


def _failed_tests(result: object) -> tuple[FailedTest, ...]:
    found = []
    for node_result in getattr(getattr(result, "result", None), "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status))
        node = node_result.node
        if status != "warn" or getattr(node, "resource_type", None) != "test":
            continue
        meta = getattr(getattr(node, "config", None), "meta", None) or {}
        if meta.get("advisory"):
            continue
        found.append(FailedTest(node.name, getattr(node_result, "failures", None), _one_line(node_result.message or ""),
                                getattr(node, "compiled_code", None)))
    return tuple(found)


def invoke_dbt(
    args: Sequence[str],
    *,
    build_db: Path,
    work_dir: Path,
    as_of: dt.date,
    threads: int = 2,
    target_dir: Path | None = None,
    tenant_scope: Sequence[str] | None = None,
    row_scope: Sequence[str] | None = None,
    scope_from_variable: bool = False,
) -> str | None:
    """Run ``dbt <args>`` in-process on ``build_db``; return None on success, else a one-line
    summary of what failed (failing nodes and tests, or the exception). Data tests with failing
    rows only warn (see the module docstring): ``invoke_dbt_outcome`` lists them.

    ``args`` starts with the dbt command (``["build"]``, ``["test", "--select", "marts"]``…).
    Artifacts go to ``target_dir``, by default ``work_dir/target``; they are written for failed
    invocations too. ``build``, ``run`` and ``test`` write ``run_results.json`` only: dbt would
    also serialize the whole ``manifest.json`` on every invocation (~0.3 s, before the first
    node runs); ``parse`` (Dagster's manifest) and ``docs generate`` write it.
    """
    return invoke_dbt_outcome(args, build_db=build_db, work_dir=work_dir, as_of=as_of, threads=threads,
                              target_dir=target_dir, tenant_scope=tenant_scope, row_scope=row_scope,
                              scope_from_variable=scope_from_variable).failure


def invoke_dbt_outcome(
    args: Sequence[str],
    *,
    build_db: Path,
    work_dir: Path,
    as_of: dt.date,
    threads: int = 2,
    target_dir: Path | None = None,
    tenant_scope: Sequence[str] | None = None,
    row_scope: Sequence[str] | None = None,
    scope_from_variable: bool = False,
) -> DbtOutcome:
    """``invoke_dbt`` that also returns the data tests that found rows. ``row_scope``: the
    tenants of ``tenant_scope`` whose changed bookings are recorded row by row (``ROW_SCOPE_ENV``).
    ``scope_from_variable``: compile the tenant scope as a read of a DuckDB variable
    (warehouse/data_tests.py), not as the ids."""
    if not args:
        raise AuditoryxError("dbt needs a command, e.g. ['build']")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise AuditoryxError(f"as_of must be a date, got {as_of!r}")
    if threads < 1:
        raise AuditoryxError(f"dbt threads must be at least 1, got {threads}")

    from dbt.cli.main import dbtRunner  # heavy import: only when dbt actually runs

    build_db = Path(build_db).resolve()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    command = args[0]
    target = Path(target_dir).resolve() if target_dir else work_dir / "target"
    results_only = command in _RESULTS_ONLY_COMMANDS
    cli_args = [*args, *dbt_flags(work_dir=work_dir, as_of=as_of, threads=threads, target_dir=target),
                *(["--no-write-json"] if results_only else [])]
    scope = ",".join(tenant_scope or [])
    rows = ",".join(t for t in (row_scope or []) if t in set(tenant_scope or []))

    with (_LOCK, _env(BUILD_DB_ENV, str(build_db)), _env(TENANT_SCOPE_ENV, scope), _env(ROW_SCOPE_ENV, rows),
          _env(SCOPE_FROM_VARIABLE_ENV, "1" if scope_from_variable else "")):
        try:
            manifest = _parsed_manifest(build_db, work_dir, as_of, target) if results_only else None
            result = dbtRunner(manifest=manifest).invoke(cli_args)
        except Exception as exc:  # dbt normally reports through the result; be safe
            return DbtOutcome(f"dbt {command} failed: {_one_line(exc, 300)}")
        finally:
            _release_build_database(vacuum=not scope)
        if results_only:
            _write_run_results(result, target)

    return DbtOutcome(None if result.success else _failure_summary(command, result), _failed_tests(result))


# The project parsed once per process, build database, as-of date and project fingerprint (guarded
# by _LOCK): key → dbt's Manifest. Handed to the next build/run/test invocation (dbtRunner's
# `manifest`), dbt does not read and check its partial-parse state again (~0.3 s per invocation).
_MANIFESTS: dict[tuple[str, dt.date, str], object] = {}


def _parsed_manifest(build_db: Path, work_dir: Path, as_of: dt.date, target: Path) -> object | None:
    """dbt's parsed project for ``build_db`` and ``as_of`` (the relations' database is named after
    the file, the as-of date is a var), parsed by a ``dbt parse`` the first time and kept while
    the project's fingerprint is the same; None when parsing fails (the caller's invocation then
    parses and reports the error itself)."""
    from dbt.cli.main import dbtRunner

    key = (str(build_db), as_of, project_fingerprint())
    if key not in _MANIFESTS:
        parsed = dbtRunner().invoke(["parse", *dbt_flags(work_dir=work_dir, as_of=as_of, threads=1, target_dir=target),
                                     "--no-write-json"])
        if not parsed.success or parsed.result is None:
            return None
        _MANIFESTS.clear()  # one project at a time: a new fingerprint, file or day replaces it
        _MANIFESTS[key] = parsed.result
    return _MANIFESTS[key]


@dataclass(frozen=True)
class TenantFailures:
    """Failed data tests, attributed: tenant → reasons, and the tests whose rows name no tenant."""
    by_tenant: dict[str, list[str]]
    unattributed: list[str]

    def summary(self) -> str:
        listed = "; ".join(self.unattributed[:_MAX_LISTED])
        more = f"; and {len(self.unattributed) - _MAX_LISTED} more" if len(self.unattributed) > _MAX_LISTED else ""
        return f"dbt build failed, {len(self.unattributed)} failing test(s) not limited to tenants: {listed}{more}"


def _sample(columns: Sequence[str], row: Sequence[object]) -> str:
    pairs = ", ".join(f"{c}={v}" for c, v in zip(columns, row) if c != "tenant_id")
    return _one_line(pairs, _MAX_SAMPLE)


def attribute_failures(build_db: Path, failed: Sequence[FailedTest],
                       scope: Sequence[str] | None = None) -> TenantFailures:
    """Run each failed test's compiled SQL again, grouped by ``tenant_id``: the reasons of each
    tenant ("<test>: <n> failing rows, e.g. <first row>"), and the tests that cannot be pinned on
    tenants (no compiled SQL, no ``tenant_id`` column, a row without a tenant). ``scope``: the
    build's tenants, for tests that read them when they run (warehouse/data_tests.py)."""
    import duckdb

    by_tenant: dict[str, list[str]] = {}
    unattributed: list[str] = []
    if not failed:
        return TenantFailures(by_tenant, unattributed)
    with closing_quietly(duckdb.connect(str(build_db))) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        bind_scope(conn, scope)
        for test in failed:
            described = f"test {test.name} ({test.message or 'failing rows'})"
            if not test.compiled_code:
                unattributed.append(described)
                continue
            failing = f"(SELECT * FROM ({test.compiled_code}\n) AS failing)"
            try:  # aggregated in SQL: a test may return millions of rows
                columns = [d[0] for d in conn.execute(f"SELECT * FROM {failing} LIMIT 0").description]
                if "tenant_id" not in columns:
                    unattributed.append(described)
                    continue
                counts = conn.execute(f"SELECT CAST(tenant_id AS VARCHAR), count(*) FROM {failing} "
                                      "GROUP BY 1 ORDER BY 1").fetchall()
                samples = _first_rows(conn, failing, columns)
            except duckdb.Error as error:
                unattributed.append(f"{described}: {_one_line(error)}")
                continue
            if any(tenant_id is None for tenant_id, _ in counts):
                unattributed.append(described)
                continue
            position = columns.index("tenant_id")
            first = {str(row[position]): row for row in samples}
            for tenant_id, count in counts:
                example = f", e.g. {_sample(columns, first[tenant_id])}" if tenant_id in first else ""
                by_tenant.setdefault(tenant_id, []).append(
                    f"dbt test {test.name}: {count} failing row{'s' if count != 1 else ''}{example}")
    return TenantFailures(by_tenant, unattributed)


def _first_rows(conn, failing: str, columns: Sequence[str]) -> list[tuple]:
    """One failing row per tenant (the first in the order of all columns), best effort: the
    reason only quotes it."""
    import duckdb

    try:
        order = ", ".join(quote_identifier(c) for c in columns)
        return conn.execute(f"SELECT * FROM {failing} QUALIFY row_number() OVER "
                            f"(PARTITION BY tenant_id ORDER BY {order}) = 1").fetchall()
    except (duckdb.Error, ValueError):
        return []


_FAILURES_DDL = (f"CREATE TABLE IF NOT EXISTS main.{FAILURES_TABLE} (tenant_id VARCHAR NOT NULL, "
                 "reason VARCHAR NOT NULL, failed_at TIMESTAMPTZ NOT NULL)")


def record_tenant_failures(build_db: Path, scope: Sequence[str] | None,
                           by_tenant: dict[str, list[str]]) -> None:
    """Replace the recorded failures of the build's tenants (``scope``; None: every tenant) and
    mark the failed tenants pending: every later build checks them again until they pass."""
    now = dt.datetime.now(dt.timezone.utc)
    with build_connection(build_db) as conn:
        conn.execute(_FAILURES_DDL)
        with transaction(conn):
            if scope is None:
                conn.execute(f"DELETE FROM main.{FAILURES_TABLE}")
            else:
                conn.execute(f"DELETE FROM main.{FAILURES_TABLE} WHERE list_contains(?, tenant_id)", [list(scope)])
            rows = [[tenant_id, reason, now] for tenant_id, reasons in sorted(by_tenant.items()) for reason in reasons]
            if rows:
                conn.executemany(f"INSERT INTO main.{FAILURES_TABLE} VALUES (?, ?, ?)", rows)
        if by_tenant:
            mark_pending(conn, sorted(by_tenant))


def tenant_failures(build_db: Path) -> dict[str, list[str]]:
    """tenant → reasons of the tenants whose rows failed a data test in the last builds."""
    if not Path(build_db).is_file():
        return {}
    with build_connection(build_db) as conn:
        found = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                             "AND table_name = ?", [FAILURES_TABLE]).fetchall()[0][0]
        if not found:
            return {}
        failures: dict[str, list[str]] = {}
        for tenant_id, reason in conn.execute(
                f"SELECT tenant_id, reason FROM main.{FAILURES_TABLE} ORDER BY tenant_id, reason").fetchall():
            failures.setdefault(tenant_id, []).append(reason)
        return failures


def _write_run_results(result: object, target: Path) -> None:
    """``run_results.json`` of an invocation run with ``--no-write-json`` (what dbt writes)."""
    execution = getattr(result, "result", None)
    if hasattr(execution, "write") and hasattr(execution, "results"):
        target.mkdir(parents=True, exist_ok=True)
        execution.write(str(target / "run_results.json"))


def run_dbt(
    args: Sequence[str],
    *,
    build_db: Path,
    work_dir: Path,
    as_of: dt.date,
    threads: int = 2,
    target_dir: Path | None = None,
    tenant_scope: Sequence[str] | None = None,
) -> None:
    """``invoke_dbt`` that raises AuditoryxError (with the one-line summary) on any failure."""
    failure = invoke_dbt(args, build_db=build_db, work_dir=work_dir, as_of=as_of, threads=threads,
                         target_dir=target_dir, tenant_scope=tenant_scope)
    if failure is not None:
        raise AuditoryxError(failure)


def project_fingerprint() -> str:
    """A hash of everything a build's results depend on besides the data: the dbt project's
    models, macros, tests, seeds (the FX rates) and configuration, and the versions of dbt,
    dbt-duckdb and DuckDB (hash functions and time-zone data live there)."""
    digest = hashlib.sha256()
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        relative = path.relative_to(DBT_PROJECT_DIR)
        if not path.is_file() or path.suffix not in _FINGERPRINT_SUFFIXES:
            continue
        if relative.parts[0] in ("target", "logs", "dbt_packages"):
            continue
        digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for package in _FINGERPRINT_PACKAGES:
        digest.update(f"{package}=={metadata.version(package)}\0".encode())
    return digest.hexdigest()


def stored_build(build_db: Path) -> tuple[str, dt.date] | None:
    """(project fingerprint, as-of date) of the last successful build of ``build_db``, if any."""
    build_db = Path(build_db)
    if not build_db.exists():
        return None
    with build_connection(build_db) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
            [STATE_TABLE],
        ).fetchall()[0][0]
        if not found:
            return None
        rows = conn.execute(f"SELECT fingerprint, as_of FROM main.{STATE_TABLE}").fetchall()
        return (rows[0][0], rows[0][1]) if rows else None


def stored_fingerprint(build_db: Path) -> str | None:
    """The project fingerprint of the last successful build on ``build_db``, if any."""
    state = stored_build(build_db)
    return state[0] if state else None


def record_build(build_db: Path, fingerprint: str, as_of: dt.date, full_refresh: bool) -> None:
    """Record a successful build of ``build_db`` with the project ``fingerprint`` (callers that run
    dbt themselves go through plan_build() and BuildPlan.succeeded())."""
    with build_connection(build_db) as conn, transaction(conn):
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS main.{STATE_TABLE} (fingerprint VARCHAR NOT NULL, as_of DATE NOT NULL, "
            "full_refresh BOOLEAN NOT NULL, built_at TIMESTAMPTZ NOT NULL)"
        )
        conn.execute(f"DELETE FROM main.{STATE_TABLE}")
        conn.execute(
            f"INSERT INTO main.{STATE_TABLE} VALUES (?, ?, ?, ?)",
            [fingerprint, as_of, full_refresh, dt.datetime.now(dt.timezone.utc)],
        )


@dataclass(frozen=True)
class BuildPlan:
    """How the next ``dbt build`` of a build database runs (``plan_build``), and what its success
    records (``BuildPlan.succeeded``)."""
    build_db: Path
    fingerprint: str
    full_refresh: bool
    tenant_scope: list[str] | None
    started_at: dt.datetime
    scope_tables: list[str] | None = None  # with a scope: the raw tables that changed (None: any)
    row_scope: list[str] = field(default_factory=list)  # of the scope: bookings changes known row by row

    @property
    def nothing_to_build(self) -> bool:
        """A build limited to tenants whose raw rows, as extraction found, did not change."""
        return bool(self.tenant_scope) and self.scope_tables == [] and not self.full_refresh

    def flags(self, *, unit_tests: bool = False, whole_project: bool = True) -> list[str]:
        """``dbt build`` flags: a full refresh, or, incrementally, without reloading the FX seed
        (unchanged: it is in the fingerprint); unit tests only when asked for.

        ``whole_project``: the caller selects nothing itself. An incremental build then also
        leaves out what the unchanged project already has: the staging views and the FX seed's
        own tests (selector ``incremental_build`` in dbt_project/selectors.yml). The data tests
        of such a build are not dbt's to run: ``build_planned`` runs them after the models."""
        excluded = (([] if unit_tests else ["unit_test"]) + ([] if self.full_refresh else ["seed"])
                    + (["test"] if whole_project else []))
        if not whole_project or self.full_refresh:
            selection = []
        elif self.tenant_scope and self.scope_tables:
            # only what depends on the raw tables that changed for the scope's tenants, and, as in
            # the selector, without the unchanged views and FX seed; every test of a selected
            # model depends on it, so it is selected with it (no indirect selection needed)
            selection = ["--select", *(f"source:operational.{table}+" for table in self.scope_tables),
                         "--exclude", "config.materialized:view", "fx_rates", "--indirect-selection", "empty"]
        else:
            selection = ["--selector", INCREMENTAL_SELECTOR]
        return [*(["--full-refresh"] if self.full_refresh else []), *selection,
                *(["--exclude-resource-type", *excluded] if excluded else [])]

    def succeeded(self, as_of: dt.date, *, every_model: bool = True,
                  failed_tests: Sequence[FailedTest] = ()) -> dict[str, list[str]]:
        """Pin the failed data tests on their tenants (AuditoryxError when one cannot be: the
        whole build failed), record the project fingerprint, forget the pending tenants when
        every model was built, and record the failed tenants (which stay pending).
        Returns tenant → reasons of the tenants that failed."""
        failures = attribute_failures(self.build_db, failed_tests, self.tenant_scope)
        if failures.unattributed:
            raise AuditoryxError(failures.summary())
        with one_connection(self.build_db):  # the steps below share one connection
            record_build(self.build_db, self.fingerprint, as_of, self.full_refresh)
            if not (every_model and self.nothing_to_build):  # dbt ran: the scope's marts may have changed
                mark_unpublished(self.build_db, None if self.full_refresh else self.tenant_scope)
            if every_model:
                clear_pending(self.build_db, before=self.started_at)
            record_tenant_failures(self.build_db, self.tenant_scope, failures.by_tenant)
        return failures.by_tenant


def plan_build(build_db: Path, as_of: dt.date, full_refresh: bool | None = None) -> BuildPlan:
    """A full refresh when forced or when the project fingerprint differs from the last successful
    build's (``full_refresh=None``); otherwise incremental, limited to the pending tenants when
    only some tenants' raw rows changed (warehouse/pending.py) and the as-of date is the last
    build's (the as-of marts of the other tenants are then still right)."""
    build_db = Path(build_db).resolve()
    started_at = dt.datetime.now(dt.timezone.utc)
    fingerprint = project_fingerprint()
    exists = build_db.exists()
    with one_connection(build_db) if exists else contextlib.nullcontext():  # the reads below share it
        last = stored_build(build_db)
        if full_refresh is None:
            full_refresh = last is None or last[0] != fingerprint
        same_day = last is not None and last[1] == as_of
        scope = build_scope(build_db) if same_day and not full_refresh else None
        tables = scope_tables(build_db, scope) if scope else None
        if tables is not None and not set(tables) <= set(RAW_TABLES):
            tables = None  # a name dbt does not know as a source: rebuild from every table
        rows = row_scope(build_db, scope, "bookings", BOOKINGS_MODEL_ALSO_READS) if scope else []
    return BuildPlan(build_db, fingerprint, full_refresh, scope, started_at, tables, rows)


def build_planned(plan: BuildPlan, *, work_dir: Path, as_of: dt.date, threads: int = 2,
                  target_dir: Path | None = None, unit_tests: bool = False) -> DbtOutcome:
    """The build ``plan`` describes: ``dbt build`` of its models (``BuildPlan.flags``), then its
    data tests as SQL (warehouse/data_tests.py), whose results are added to the invocation's
    ``run_results.json``. A test that errors or fails (severity error) fails the build, as in dbt;
    the tests that warn are returned for ``BuildPlan.succeeded`` to pin on tenants."""
    work_dir = Path(work_dir).resolve()
    target = Path(target_dir).resolve() if target_dir else work_dir / "target"
    with _LOCK:
        outcome = invoke_dbt_outcome(["build", *plan.flags(unit_tests=unit_tests)], build_db=plan.build_db,
                                     work_dir=work_dir, as_of=as_of, threads=threads, target_dir=target,
                                     tenant_scope=plan.tenant_scope, row_scope=plan.row_scope)
        if outcome.failure is not None:
            return outcome

        def compile_tests(args: list[str], compile_target: Path) -> str | None:
            return invoke_dbt(args, build_db=plan.build_db, work_dir=work_dir, as_of=as_of, threads=threads,
                              target_dir=compile_target, scope_from_variable=True)

        tests = select_tests(compiled_tests(work_dir, plan.fingerprint, as_of, plan.build_db, compile_tests),
                             full_refresh=plan.full_refresh, scope_tables=plan.scope_tables)
        started = time.perf_counter()
        with closing_quietly(connect_build(plan.build_db)) as conn:
            results = run_tests(conn, tests, plan.tenant_scope)
        add_to_run_results(target / "run_results.json", results, time.perf_counter() - started)
    return _tests_outcome(results)


def _tests_outcome(results: Sequence[DataTestResult]) -> DbtOutcome:
    failing = [_failed_node("test", r.test.name, r.status, r.message) for r in results if r.status in _FAILED_STATUSES]
    warned = tuple(FailedTest(r.test.name, r.failures, _one_line(r.message or ""), r.test.sql)
                   for r in results if r.status == "warn" and not r.test.advisory)
    return DbtOutcome(_failures_listed("build", failing) if failing else None, warned)


def build_all(
    build_db: Path,
    work_dir: Path,
    as_of: dt.date,
    threads: int = 2,
    *,
    full_refresh: bool | None = None,
    unit_tests: bool = False,
) -> bool:
    """``dbt build`` of the whole project (seed, models, data tests) for all tenants.

    ``full_refresh=None`` (default) rebuilds incremental models from scratch only when the
    project fingerprint differs from the last successful build's; True or False forces it.
    When the raw rows changed only for some tenants since the last successful build (marks of
    warehouse/pending.py) and the as-of date is the same, the build looks only at theirs: the
    incremental bookings model compares their rows, the as-of marts recompute only them and the
    data tests check only their rows (``TENANT_SCOPE_ENV``); when the marks name the raw tables
    that changed, only what depends on those tables is built, and nothing when none did.
    A data test whose failing rows belong to some tenants fails only those tenants (recorded,
    see ``tenant_failures``); one whose rows name no tenant raises AuditoryxError.
    Unit tests check SQL logic on fixed inputs, not the data: they run in the test suite
    (``unit_tests=True`` or ``run_dbt(["test", "--select", "test_type:unit"], …)``), not on every
    refresh. Returns whether the build was a full refresh.
    """
    with _LOCK:
        plan = plan_build(build_db, as_of, full_refresh)
        if plan.nothing_to_build and not unit_tests:
            plan.succeeded(as_of)
            return False
        outcome = build_planned(plan, work_dir=work_dir, as_of=as_of, threads=threads, unit_tests=unit_tests)
        if outcome.failure is not None:
            raise AuditoryxError(outcome.failure)
        plan.succeeded(as_of, failed_tests=outcome.failed_tests)
    return plan.full_refresh


def generate_docs(build_db: Path, work_dir: Path, as_of: dt.date, threads: int = 2) -> Path:
    """``dbt docs generate`` into ``work_dir/target`` (catalog from ``build_db``, which should
    have been built for column types to show); returns the self-contained ``static_index.html``
    (open it in a browser, no server needed). ``index.html``, ``manifest.json`` and
    ``catalog.json`` sit next to it for ``dbt docs serve``."""
    build_db = Path(build_db).resolve()
    build_db.parent.mkdir(parents=True, exist_ok=True)
    run_dbt(["docs", "generate", "--static"], build_db=build_db, work_dir=work_dir, as_of=as_of, threads=threads)
    return Path(work_dir).resolve() / "target" / "static_index.html"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m warehouse.dbt_runner docs``: the Makefile's ``docs`` target."""
    parser = argparse.ArgumentParser(prog="python -m warehouse.dbt_runner", description=main.__doc__)
    parser.add_argument("command", choices=["docs"])
    options = parser.parse_args(argv)
    from auditoryx.settings import get_settings

    settings = get_settings()
    if options.command == "docs":
        built = settings.build_database_path.exists()
        page = generate_docs(settings.build_database_path, settings.dbt_work_dir, settings.effective_as_of(),
                             threads=settings.dbt_threads)
        print(f"dbt docs: {page}")
        print(f"serve:    {BUILD_DB_ENV}={settings.build_database_path} .venv/bin/dbt docs serve "
              f"--project-dir dbt_project --profiles-dir dbt_project --target-path {page.parent} "
              f"--log-path {page.parent.parent / 'logs'}")
        if not built:
            print("note: no build database yet, so no column types; run `make demo` first")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
