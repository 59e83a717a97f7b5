"""Full refresh of every tenant through Dagster (one run over all tenant partitions).

Generates N tenants / M bookings (default 1,000 / 10M) into a fresh SQLite operational database,
then materializes the `refresh_tenants` job in-process over the whole tenant partition range
(extract → dbt build → publish, as one single-run backfill) and prints wall time, peak RSS, the
materializations and check evaluations the run recorded and each step's time, next to the same refresh called directly (`auditoryx.pipeline.refresh`, no Dagster) on a copy.

    .venv/bin/python benchmarks/dagster_full_refresh.py [--tenants 1000] [--bookings 10000000]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--bookings", type=int, default=10_000_000)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="auditoryx-dagster-full-"))
    os.environ["AUDITORYX_VAR_DIR"] = str(root / "dagster")
    os.environ.setdefault("AUDITORYX_AS_OF", dt.date.today().isoformat())

    import dagster as dg

    from auditoryx.pipeline import refresh
    from auditoryx.settings import Settings, get_settings
    from operational.db import create_schema, make_engine
    from operational.generator import generate
    from pipelines.definitions import defs as load_defs

    settings = get_settings()
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    started = time.perf_counter()
    tenants = generate(engine, tenants=options.tenants, seed=7, as_of=settings.effective_as_of(), password="x",
                       target_bookings=options.bookings)
    engine.dispose()
    print(f"generated {options.tenants} tenants / {sum(t.bookings for t in tenants)} bookings "
          f"in {time.perf_counter() - started:.1f}s")

    direct_dir = root / "direct"
    direct_dir.mkdir()
    shutil.copyfile(settings.resolved_var_dir / "operational.sqlite", direct_dir / "operational.sqlite")
    direct = Settings(var_dir=direct_dir, as_of=settings.effective_as_of())
    started = time.perf_counter()
    refresh(direct, mode="full")
    direct_seconds = time.perf_counter() - started

    defs = load_defs()
    instance = dg.DagsterInstance.ephemeral()
    ids = [t.id for t in tenants]
    instance.add_dynamic_partitions("tenants", ids)
    job = defs.resolve_job_def("refresh_tenants")
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, tags={
        "dagster/asset_partition_range_start": ids[0], "dagster/asset_partition_range_end": ids[-1]})
    dagster_seconds = time.perf_counter() - started
    assert result.success
    events = [e.event_type_value for e in result.all_events]
    steps = {e.step_key: e.event_specific_data.duration_ms / 1000 for e in result.all_events
             if e.event_type_value == "STEP_SUCCESS"}
    published = sum(1 for p in settings.published_dir.glob("[!_]*/CURRENT"))
    print(json.dumps({
        "tenants": options.tenants, "bookings": options.bookings, "published_tenants": published,
        "dagster_full_refresh_s": round(dagster_seconds, 1), "direct_refresh_s": round(direct_seconds, 1),
        "ratio_to_direct": round(dagster_seconds / direct_seconds, 2),
        "materializations": events.count("ASSET_MATERIALIZATION"),
        "check_evaluations": events.count("ASSET_CHECK_EVALUATION"),
        "step_s": {step: round(seconds, 1) for step, seconds in sorted(steps.items())},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
