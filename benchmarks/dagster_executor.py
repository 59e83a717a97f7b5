"""A one-tenant refresh run through Dagster's own executors: in the run's process (what the refresh
jobs use) against Dagster's default, a process per step, in one run.

Builds a small world in a temporary folder (the generator's first tenants on SQLite, one direct
refresh) and a temporary Dagster instance (``DAGSTER_HOME``) with the tenants' partitions. Then,
rounds alternating: commit one booking, execute ``refresh_tenants`` for that tenant with
``dg.execute_job`` (the job's executor decides where steps run, as under ``dagster dev``: unlike
``execute_in_process``, which always runs in-process), once as defined (``in_process_executor``)
and once with ``multiprocess_executor`` (the baseline); the published booking count is checked
after each. Prints the run's wall time (start → success, from the instance's run stats) and the
call's, their medians, the ratio and the load average.

    .venv/bin/python benchmarks/dagster_executor.py [--rounds 3] [--tenants 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

JOB = "refresh_tenants"


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {_load()}] {message}", flush=True)


def project_job():
    """The refresh job as the project defines it (reconstructed by step processes by this name)."""
    from pipelines.definitions import defs

    return defs().resolve_job_def(JOB)


def multiprocess_job():
    """The same job with Dagster's default executor: a process per step."""
    import dagster as dg

    return project_job().with_executor_def(dg.multiprocess_executor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tenants", type=int, default=3)
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="auditoryx-dagster-executor-"))
    os.environ.update({"AUDITORYX_VAR_DIR": str(work / "var"), "AUDITORYX_AS_OF": "2026-10-15",
                       "AUDITORYX_OPERATIONAL_URL": f"sqlite:///{work / 'var' / 'operational.sqlite'}",
                       "DAGSTER_HOME": str(work / "dagster")})
    (work / "dagster").mkdir(parents=True)
    (work / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")

    import dagster as dg

    from auditoryx.pipeline import refresh
    from auditoryx.settings import get_settings
    from booking_latency import _commit_booking, _published_bookings
    from operational.db import create_schema, make_engine
    from operational.generator import generate
    from pipelines.defs.partitions import tenant_partitions

    settings = get_settings()
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    tenants = generate(engine, tenants=options.tenants, seed=7, as_of=settings.effective_as_of(), password="pw")
    started = time.perf_counter()
    refresh(settings)
    _say(f"world: {options.tenants} tenants in {work}; first refresh {time.perf_counter() - started:.1f} s")
    tenant = tenants[-1]  # the smallest
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(tenant_partitions.name, [t.id for t in tenants])
    jobs = {"in the run's process": project_job, "a process per step": multiprocess_job}
    runs: dict[str, list[float]] = {name: [] for name in jobs}
    calls: dict[str, list[float]] = {name: [] for name in jobs}
    for round_number in range(options.rounds):
        for name, job in jobs.items():
            expected = _published_bookings(settings, tenant.id) + 1
            _commit_booking(engine, tenant.id, settings.effective_as_of())
            began = time.perf_counter()
            with dg.execute_job(dg.reconstructable(job), instance=instance,
                                tags={"dagster/partition": tenant.id}) as result:
                assert result.success, name
                stats = instance.get_run_stats(result.run_id)
            calls[name].append(time.perf_counter() - began)
            runs[name].append(stats.end_time - stats.start_time)
            assert _published_bookings(settings, tenant.id) == expected, name
            _say(f"round {round_number + 1}, {name}: run {runs[name][-1]:.2f} s, call {calls[name][-1]:.2f} s")
    inside, per_step = (statistics.median(runs[name]) for name in jobs)
    _say(f"run start → success, median: in the run's process {inside:.2f} s, a process per step {per_step:.2f} s "
         f"({per_step / inside:.1f}x); call: {statistics.median(calls[list(jobs)[0]]):.2f} s vs "
         f"{statistics.median(calls[list(jobs)[1]]):.2f} s")
    engine.dispose()


if __name__ == "__main__":
    main()
