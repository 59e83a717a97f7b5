"""Run the dbt project in-process against a DuckDB build database.

dbt writes its artifacts (``target/``) and logs under ``work_dir``, never into the repository.
The build database is handed to the profile through ``AUDITORYX_BUILD_DB`` for the duration of
the call only; nothing is read from the environment at import time.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from auditoryx.errors import AuditoryxError

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
BUILD_DB_ENV = "AUDITORYX_BUILD_DB"

# Statuses of dbt node results that make a run fail (see dbt.artifacts.schemas.results).
_FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
_MAX_MESSAGE = 160
_MAX_LISTED = 5

# dbt keeps process-wide state (flags, adapters, invocation context) and the profile reads an
# environment variable: one invocation at a time per process.
_LOCK = threading.Lock()


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


def _release_build_database() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an invocation.

    dbt-duckdb caches one environment (and its DuckDB connection) per process; left open, it
    holds the file lock and makes any later ``duckdb.connect(build_db, ...)`` with another
    configuration (read_only, another process) fail.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
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
        detail = node_result.message or status
        failures.append(f"{node.resource_type} {node.name} ({status}: {_one_line(detail)})")

    if not failures:
        return f"dbt {command} failed (no failing node reported; see the dbt log)"
    listed = "; ".join(failures[:_MAX_LISTED])
    more = f"; and {len(failures) - _MAX_LISTED} more" if len(failures) > _MAX_LISTED else ""
    skipped_text = f"; {skipped} skipped" if skipped else ""
    return f"dbt {command} failed, {len(failures)} failing: {listed}{more}{skipped_text}"


def dbt_flags(*, work_dir: Path, as_of: dt.date, threads: int) -> list[str]:
    """The flags every invocation gets: project, profile, output folders and the as-of date."""
    return [
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--vars", json.dumps({"as_of": as_of.isoformat()}),
        "--threads", str(threads),
        "--no-send-anonymous-usage-stats",
        "--no-use-colors",
    ]


def run_dbt(
    args: Sequence[str],
    *,
    build_db: Path,
    work_dir: Path,
    as_of: dt.date,
    threads: int = 2,
) -> None:
    """Run ``dbt <args>`` in-process on ``build_db``; raise AuditoryxError on any failure.

    ``args`` starts with the dbt command (``["build"]``, ``["test", "--select", "marts"]``…).
    """
    if not args:
        raise AuditoryxError("run_dbt needs a dbt command, e.g. ['build']")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise AuditoryxError(f"as_of must be a date, got {as_of!r}")
    if threads < 1:
        raise AuditoryxError(f"dbt threads must be at least 1, got {threads}")

    from dbt.cli.main import dbtRunner  # heavy import: only when dbt actually runs

    build_db = Path(build_db).resolve()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    command = args[0]
    cli_args = [*args, *dbt_flags(work_dir=work_dir, as_of=as_of, threads=threads)]

    with _LOCK, _env(BUILD_DB_ENV, str(build_db)):
        try:
            result = dbtRunner().invoke(cli_args)
        except Exception as exc:  # dbt normally reports through the result; be safe
            raise AuditoryxError(f"dbt {command} failed: {_one_line(exc, 300)}") from exc
        finally:
            _release_build_database()

    if not result.success:
        raise AuditoryxError(_failure_summary(command, result))


def build_all(build_db: Path, work_dir: Path, as_of: dt.date, threads: int = 2) -> None:
    """``dbt build`` of the whole project (seeds, models, unit and data tests) for all tenants."""
    run_dbt(["build"], build_db=build_db, work_dir=work_dir, as_of=as_of, threads=threads)
