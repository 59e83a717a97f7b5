"""The data tests of a planned build, run as SQL statements on the build database, not as dbt nodes.

dbt spends ~15-30 ms of bookkeeping on each test node it runs (rendering, a connection, events,
results); a one-booking build runs ~90 tests, whose queries themselves take a few milliseconds
each. So a build's models run in dbt (``dbt build`` without the tests) and its data tests here:

- **compiled once** per project fingerprint and as-of date (``dbt compile --select test_type:data``),
  kept in ``<work_dir>/data_tests/<as-of>-<fingerprint>-<database>.json``. They are compiled with
  ``AUDITORYX_TENANT_SCOPE_FROM_VARIABLE`` set: their tenant scope is not written into the SQL but
  read, when they run, from the DuckDB variable ``auditoryx_tenant_scope`` (a list of tenant ids,
  or NULL for every tenant; ``bind_scope``), which DuckDB folds into a constant (the scan filters
  on it as it would on the ids written out);
- **selected** as dbt selected them (``select_tests``, pure): every test after a full refresh;
  otherwise those downstream of the raw tables that changed for the build's tenants (any raw
  table when not known), which leaves out the FX seed's own tests (unchanged project);
- **run** in one connection, each as dbt runs a test (``fail_calc``, ``warn_if``, ``error_if``,
  ``severity``), giving dbt's statuses (pass, warn, fail, error) and the same ``FailedTest`` for
  the warehouse/dbt_runner.py's attribution of failing rows to tenants. Their results are added to
  the invocation's ``run_results.json``, where Dagster reads its asset check results
  (pipelines/dbt_events.py).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from auditoryx.errors import AuditoryxError

SCOPE_VARIABLE = "auditoryx_tenant_scope"  # read by dbt_project/macros/tenant_scope.sql
SCOPE_FROM_VARIABLE_ENV = "AUDITORYX_TENANT_SCOPE_FROM_VARIABLE"
CACHE_FOLDER = "data_tests"
_THREAD_ID = "auditoryx-data-tests"


@dataclass(frozen=True)
class DataTest:
    """One compiled data test (generic or singular) and what dbt's runner needs to judge it."""
    unique_id: str
    name: str
    sql: str  # the failing rows; the tenant scope is read from SCOPE_VARIABLE
    sources: tuple[str, ...]  # raw tables (dbt sources) upstream of the test
    severity: str = "warn"
    fail_calc: str = "count(*)"
    warn_if: str = "!= 0"
    error_if: str = "!= 0"
    limit: int | None = None
    advisory: bool = False

    def query(self) -> str:
        """dbt's test statement (its ``get_test_sql``): failures, should_warn, should_error."""
        limit = f"\nlimit {int(self.limit)}" if self.limit is not None else ""
        return (f"select {self.fail_calc} as failures, {self.fail_calc} {self.warn_if} as should_warn, "
                f"{self.fail_calc} {self.error_if} as should_error from (\n{self.sql}{limit}\n) dbt_internal_test")


@dataclass(frozen=True)
class DataTestResult:
    """What one test gave, as dbt reports it (``status``: pass, warn, fail or error)."""
    test: DataTest
    status: str
    failures: int | None
    message: str | None
    seconds: float

    def run_result(self) -> dict[str, Any]:
        """The test's entry of ``run_results.json`` (the fields dbt writes for a test node)."""
        return {"unique_id": self.test.unique_id, "status": self.status, "failures": self.failures,
                "message": self.message, "execution_time": round(self.seconds, 6), "thread_id": _THREAD_ID,
                "timing": [], "adapter_response": {}, "relation_name": None, "compiled": True,
                "compiled_code": self.test.sql, "batch_results": None}


def judge(test: DataTest, failures: int | None, should_warn: bool, should_error: bool) -> tuple[str, str | None]:
    """dbt's status and message for a test's outcome (pure)."""
    severity = test.severity.upper()
    if severity == "ERROR" and should_error:
        status, threshold = "fail", test.error_if
    elif should_warn:
        status, threshold = "warn", test.warn_if
    else:
        return "pass", None
    return status, f"Got {failures} result{'' if failures == 1 else 's'}, configured to {status} if {threshold}"


def select_tests(tests: Sequence[DataTest], *, full_refresh: bool, scope_tables: Collection[str] | None) -> list[DataTest]:
    """The tests a build runs (pure): all after a full refresh; otherwise those downstream of a raw
    table that changed (``scope_tables``; None: any raw table). The FX seed's own tests have no raw
    table upstream: they run with the seed, on a full refresh only."""
    if full_refresh:
        return list(tests)
    if scope_tables is None:
        return [test for test in tests if test.sources]
    return [test for test in tests if set(test.sources) & set(scope_tables)]


def upstream_sources(manifest: Mapping[str, Any], unique_id: str) -> tuple[str, ...]:
    """The names of the sources (raw tables) ``unique_id`` depends on, directly or not (pure)."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = [unique_id]
    while pending:
        node_id = pending.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        if node_id in manifest.get("sources", {}):
            found.add(manifest["sources"][node_id]["name"])
            continue
        pending.extend(manifest.get("nodes", {}).get(node_id, {}).get("depends_on", {}).get("nodes", []))
    return tuple(sorted(found))


def data_tests_of_manifest(manifest: Mapping[str, Any]) -> list[DataTest]:
    """The compiled data tests of a manifest written by ``dbt compile`` (pure)."""
    tests = []
    for unique_id, node in sorted(manifest.get("nodes", {}).items()):
        if node.get("resource_type") != "test" or not node.get("compiled"):
            continue
        config = node.get("config", {})
        tests.append(DataTest(
            unique_id=unique_id, name=node["name"], sql=node["compiled_code"],
            sources=upstream_sources(manifest, unique_id), severity=config.get("severity") or "warn",
            fail_calc=config.get("fail_calc") or "count(*)", warn_if=config.get("warn_if") or "!= 0",
            error_if=config.get("error_if") or "!= 0", limit=config.get("limit"),
            advisory=bool((config.get("meta") or {}).get("advisory"))))
    return tests


def cache_path(work_dir: Path, fingerprint: str, as_of: dt.date, build_db: Path) -> Path:
    """Where the tests compiled for ``build_db`` (their SQL names its database) are kept."""
    database = hashlib.sha256(str(Path(build_db).resolve()).encode()).hexdigest()[:16]
    return Path(work_dir) / CACHE_FOLDER / f"{as_of.isoformat()}-{fingerprint}-{database}.json"


def load_cached(path: Path) -> list[DataTest] | None:
    """The tests kept in ``path``, or None when missing or unreadable (then compiled again)."""
    try:
        entries = json.loads(path.read_text())
        return [DataTest(**{**entry, "sources": tuple(entry["sources"])}) for entry in entries]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _store(path: Path, tests: Sequence[DataTest]) -> None:
    """Write ``path`` atomically (another process may read it) and drop older compilations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        json.dump([asdict(test) for test in tests], handle)
    os.replace(handle.name, path)
    for old in path.parent.glob("*.json"):
        if old != path:
            old.unlink(missing_ok=True)


# compile(args, target_dir) -> failure or None: runs `dbt <args>` writing into target_dir
Compiler = Callable[[list[str], Path], "str | None"]


def compiled_tests(work_dir: Path, fingerprint: str, as_of: dt.date, build_db: Path,
                   compile_with: Compiler) -> list[DataTest]:
    """The project's data tests compiled for ``build_db`` and ``as_of``, from the cache or compiled
    now (in a folder of this call's own, seeded with the last build's partial-parse state)."""
    path = cache_path(work_dir, fingerprint, as_of, build_db)
    cached = load_cached(path)
    if cached is not None:
        return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="compile-", dir=path.parent))
    try:
        partial_parse = Path(work_dir) / "target" / "partial_parse.msgpack"
        if partial_parse.is_file():
            shutil.copyfile(partial_parse, target / partial_parse.name)
        failure = compile_with(["compile", "--select", "test_type:data", "--no-populate-cache"], target)
        if failure is not None:
            raise AuditoryxError(f"compiling the data tests failed: {failure}")
        tests = data_tests_of_manifest(json.loads((target / "manifest.json").read_text()))
    finally:
        shutil.rmtree(target, ignore_errors=True)
    _store(path, tests)
    return tests


def bind_scope(conn, scope: Sequence[str] | None) -> None:
    """Set the tenant scope the compiled tests read (None or empty: every tenant) on ``conn``."""
    conn.execute(f"SET VARIABLE {SCOPE_VARIABLE} = ?", [list(scope) if scope else None])


def run_tests(conn, tests: Sequence[DataTest], scope: Sequence[str] | None, workers: int = 2) -> list[DataTestResult]:
    """Run ``tests`` on ``conn``'s database for the tenants of ``scope`` (None: every tenant), in
    ``workers`` threads, each with a cursor of its own (most tests of a scoped build take a few
    milliseconds: two at a time hide each one's latency); results in the order of ``tests``. A
    test whose SQL fails gets status ``error`` with the database's message."""
    import duckdb

    local = threading.local()
    cursors = []
    guard = threading.Lock()

    def cursor():
        if getattr(local, "cursor", None) is None:
            local.cursor = conn.cursor()
            bind_scope(local.cursor, scope)
            with guard:
                cursors.append(local.cursor)
        return local.cursor

    def run_one(test: DataTest) -> DataTestResult:
        started = time.perf_counter()
        try:
            failures, should_warn, should_error = cursor().execute(test.query()).fetchone()
        except duckdb.Error as error:
            return DataTestResult(test, "error", None, f"Database Error in test {test.name}: {error}",
                                  time.perf_counter() - started)
        status, message = judge(test, failures, bool(should_warn), bool(should_error))
        return DataTestResult(test, status, failures, message, time.perf_counter() - started)

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=_THREAD_ID) as pool:
            return list(pool.map(run_one, tests))
    finally:
        for each in cursors:
            each.close()


def add_to_run_results(path: Path, results: Sequence[DataTestResult], seconds: float) -> None:
    """Append the tests' entries to the ``run_results.json`` the build's dbt invocation wrote
    (written anew when there is none) and add their time to its ``elapsed_time``."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        document = {"metadata": {}, "results": [], "elapsed_time": 0.0, "args": {}}
    document["results"] = [*document.get("results", []), *(result.run_result() for result in results)]
    document["elapsed_time"] = float(document.get("elapsed_time") or 0.0) + seconds
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
