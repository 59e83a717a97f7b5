"""One booking committed → published, row-level build vs the tenant-wide one, in one run.

On an existing world (the environment names it: AUDITORYX_VAR_DIR, AUDITORYX_OPERATIONAL_URL,
AUDITORYX_AS_OF; e.g. the one `refresh_scale.py --keep` or `auditoryx generate` + `refresh`
made), for each tenant slug given, alternating rounds of:
- row-level: commit one booking, `refresh(settings, [tenant])`: extraction records the changed
  row, the build looks at that booking and rewrites the months it touches (issue #18);
- tenant-wide (the baseline, as before row-level builds): commit one booking, mark the tenant
  pending for every table (`warehouse.pending.mark_pending`, what a file drop does), refresh:
  the build compares and recomputes the tenant's every booking.
Each refresh runs in this process (dbt imported once, as in a running worker); the published
booking count is checked after each. Prints medians, the ratio, the load average and, per mode,
the slowest dbt nodes of the last round.

    .venv/bin/python benchmarks/one_booking.py --tenant tenant-0219 --tenant kanto-talent [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {_load()}] {message}", flush=True)


def _slowest_nodes(settings, count: int = 6) -> str:
    results = json.loads((settings.dbt_work_dir / "target" / "run_results.json").read_text())
    nodes = sorted(((r["execution_time"], r["unique_id"].split(".")[-1][:48]) for r in results["results"]),
                   reverse=True)
    total = sum(seconds for seconds, _ in nodes)
    return (f"{len(nodes)} nodes, {total:.1f} s summed, dbt elapsed {results.get('elapsed_time', 0):.1f} s; "
            + ", ".join(f"{name} {seconds:.2f}" for seconds, name in nodes[:count]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", action="append", required=True, help="tenant slug (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    import duckdb

    from auditoryx.pipeline import refresh
    from auditoryx.settings import get_settings
    from booking_latency import _commit_booking, _published_bookings
    from operational.db import make_engine
    from operational.tenants import tenant_id_for_slug
    from warehouse.build_db import closing_quietly
    from warehouse.pending import mark_pending

    settings = get_settings()
    engine = make_engine(settings.operational_database_url)
    as_of = settings.effective_as_of()
    refresh(settings)  # start from a built, published world
    for slug in options.tenant:
        tenant_id = tenant_id_for_slug(engine, slug)
        times: dict[str, list[float]] = {"row-level": [], "tenant-wide": []}
        nodes: dict[str, str] = {}
        for _ in range(options.rounds):
            for mode in times:
                expected = _published_bookings(settings, tenant_id) + 1
                _commit_booking(engine, tenant_id, as_of)
                started = time.perf_counter()
                if mode == "tenant-wide":
                    with closing_quietly(duckdb.connect(str(settings.build_database_path))) as conn:
                        mark_pending(conn, [tenant_id])
                refresh(settings, [tenant_id])
                times[mode].append(time.perf_counter() - started)
                assert _published_bookings(settings, tenant_id) == expected, (slug, mode)
                nodes[mode] = _slowest_nodes(settings)
                _say(f"{slug} {mode}: {times[mode][-1]:.2f} s")
        row, wide = statistics.median(times["row-level"]), statistics.median(times["tenant-wide"])
        _say(f"{slug}: row-level {row:.2f} s ({', '.join(f'{t:.2f}' for t in times['row-level'])}), "
             f"tenant-wide {wide:.2f} s ({', '.join(f'{t:.2f}' for t in times['tenant-wide'])}): "
             f"{wide / row:.1f}x faster")
        for mode, summary in nodes.items():
            _say(f"  {mode}, last round: {summary}")
    engine.dispose()


if __name__ == "__main__":
    main()
