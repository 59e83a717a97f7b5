"""Refresh cost at scale: every row of issue #18's table, direct and through Dagster, next to a
full rebuild measured in the same run, with peak memory.

Generates N tenants / M bookings (default 1,000 / 10M, seed 7, as of 2026-10-15) into a fresh
operational database (a SQLite file, or a new PostgreSQL database with --backend postgresql),
then measures, each refresh in its own child process (interpreter start-up and imports included
in "process"; "inside" is the `refresh()` call alone, as in a running worker):

1. full refresh, empty warehouse (the baseline every other row is compared with);
2. nothing changed, all tenants (and: nothing republished);
3. one booking committed in the largest tenant → `refresh --tenant` → published;
4. the same in the smallest tenant;
5. through Dagster: the change sensor's tick with nothing changed, and booking → sensor →
   `refresh_tenants` run → published, next to the direct refresh measured in the same process;
6. through Dagster: a full refresh of every tenant into an empty warehouse.

Peak memory is sampled every 0.2 s over the child's process tree (SQLite extraction reads in a
helper process): private plus shared memory (RssAnon + RssShmem, the "peak" column), and apart
the whole RSS including mapped file pages (the SQLite file read through mmap).

    .venv/bin/python benchmarks/refresh_scale.py [--backend sqlite|postgresql] [--tenants 1000]
        [--bookings 10000000] [--rounds 3] [--no-dagster]
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PG_ADMIN_URL = os.environ.get("AUDITORYX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AS_OF = "2026-10-15"


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {_load()}] {message}", flush=True)


# ---------------------------------------------------------------- memory of a process tree

def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _tree_memory(pid: int) -> dict[str, int]:
    """Bytes resident in the tree: private memory (``RssAnon``), shared memory (``RssShmem``:
    Arrow files in /dev/shm, counted once per process mapping them) and file pages mapped
    (``RssFile``: the SQLite file read through mmap, DuckDB's files), summed over the processes."""
    children, stack = _children_map(), [pid]
    totals = {"RssAnon": 0, "RssShmem": 0, "RssFile": 0}
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, ()))
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    key, _, value = line.partition(":")
                    if key in totals:
                        totals[key] += int(value.split()[0]) * 1024
        except OSError:
            pass
    return totals


@contextlib.contextmanager
def peak_memory(pid: int) -> Iterator[dict[str, int]]:
    """Sample the process tree of ``pid`` every 0.2 s while the block runs; the dict yielded holds
    the peaks (bytes): ``anon`` (private), ``anon_shmem`` (private + shared), ``rss`` (all)."""
    peak, done = {"anon": 0, "anon_shmem": 0, "rss": 0}, threading.Event()

    def sample() -> None:
        while not done.is_set():
            memory = _tree_memory(pid)
            peak["anon"] = max(peak["anon"], memory["RssAnon"])
            peak["anon_shmem"] = max(peak["anon_shmem"], memory["RssAnon"] + memory["RssShmem"])
            peak["rss"] = max(peak["rss"], sum(memory.values()))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def run_child(args: list[str], env: dict[str, str]) -> dict:
    """Run this script in child mode; its last stdout line is JSON. Adds wall and peak memory."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, "--child", *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with peak_memory(process.pid) as peak:
        out, err = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"child {args} failed ({process.returncode}):\n{out[-3000:]}\n{err[-6000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    # tree_peak_gb: private + shared memory of the process tree (what the refresh holds);
    # tree_rss_gb: plus mapped file pages (page cache the kernel can drop)
    result.update(process_s=wall, tree_peak_gb=peak["anon_shmem"] / 2**30, tree_anon_gb=peak["anon"] / 2**30,
                  tree_rss_gb=peak["rss"] / 2**30)
    return result


# ---------------------------------------------------------------- child modes

def _settings():
    from auditoryx.settings import get_settings

    return get_settings()


def _current_versions(settings) -> dict[str, str]:
    return {path.parent.name: path.read_text().strip() for path in settings.published_dir.glob("*/CURRENT")}


def child_refresh(arguments: list[str]) -> dict:
    tenant_ids = [a for a in arguments if a != "--full"] or None
    from auditoryx.pipeline import refresh

    settings = _settings()
    before = _current_versions(settings)
    started = time.perf_counter()
    result = refresh(settings, tenant_ids, mode="full" if "--full" in arguments else "incremental")
    inside = time.perf_counter() - started
    after = _current_versions(settings)
    return {"inside_s": inside, "republished": sum(1 for t, v in after.items() if before.get(t) != v),
            "published_tenants": len(after), "failed": len(result.failed_tenants)}


def child_dagster_full(_arguments: list[str]) -> dict:
    import dagster as dg

    from operational.db import make_engine
    from operational.tenants import active_tenants
    from pipelines.definitions import defs as load_defs

    settings = _settings()
    engine = make_engine(settings.operational_database_url)
    ids = sorted(active_tenants(engine))
    engine.dispose()
    defs = load_defs()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", ids)
    job = defs.resolve_job_def("refresh_tenants")
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, tags={
        "dagster/asset_partition_range_start": ids[0], "dagster/asset_partition_range_end": ids[-1]})
    seconds = time.perf_counter() - started
    assert result.success
    steps = {e.step_key: round(e.event_specific_data.duration_ms / 1000, 1) for e in result.all_events
             if e.event_type_value == "STEP_SUCCESS"}
    return {"inside_s": seconds, "steps": steps, "published_tenants": len(_current_versions(settings))}


def child_dagster_sensor(arguments: list[str]) -> dict:
    """For each tenant: rounds of (commit → direct refresh) and (commit → sensor → run), one process."""
    rounds, tenant_ids = int(arguments[0]), arguments[1:]
    import dagster as dg

    from auditoryx.pipeline import refresh
    from booking_latency import _commit_booking, _published_bookings
    from operational.db import make_engine
    from operational.tenants import active_tenants
    from pipelines.definitions import defs as load_defs

    settings = _settings()
    engine = make_engine(settings.operational_database_url)
    defs = load_defs()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", sorted(active_tenants(engine)))
    sensor = defs.get_sensor_def("operational_change_sensor")
    job = defs.resolve_job_def(sensor.job_name)  # what the sensor's run requests start

    def tick(cursor):
        started = time.perf_counter()
        result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))
        return result, time.perf_counter() - started

    cursor = tick(None)[0].cursor
    idle_ticks = []
    for _ in range(rounds):
        result, seconds = tick(cursor)
        assert not result.run_requests, [r.partition_key for r in result.run_requests]
        idle_ticks.append(seconds)
    out = {"idle_tick_s": idle_ticks, "tenants": {}}
    as_of = settings.effective_as_of()
    for tenant_id in tenant_ids:
        direct, sensor_path, ticks = [], [], []
        for _ in range(rounds):
            expected = _published_bookings(settings, tenant_id) + 1
            _commit_booking(engine, tenant_id, as_of)
            started = time.perf_counter()
            refresh(settings, [tenant_id])
            direct.append(time.perf_counter() - started)
            assert _published_bookings(settings, tenant_id) == expected
            cursor = tick(cursor)[0].cursor

            _commit_booking(engine, tenant_id, as_of)
            committed = time.perf_counter()
            result, seconds = tick(cursor)
            ticks.append(seconds)
            cursor = result.cursor
            assert [r.partition_key for r in result.run_requests] == [tenant_id]
            assert job.execute_in_process(instance=instance, partition_key=tenant_id).success
            assert _published_bookings(settings, tenant_id) == expected + 1
            sensor_path.append(time.perf_counter() - committed)
        out["tenants"][tenant_id] = {"direct_s": direct, "sensor_path_s": sensor_path, "tick_s": ticks}
    engine.dispose()
    return out


def child_commit(arguments: list[str]) -> dict:
    from booking_latency import _commit_booking, _published_bookings
    from operational.db import make_engine

    settings = _settings()
    engine = make_engine(settings.operational_database_url)
    expected = _published_bookings(settings, arguments[0]) + 1
    _commit_booking(engine, arguments[0], settings.effective_as_of())
    engine.dispose()
    return {"expected": expected}


def child_count(arguments: list[str]) -> dict:
    from booking_latency import _published_bookings

    return {"published": _published_bookings(_settings(), arguments[0])}


CHILDREN = {"refresh": child_refresh, "dagster-full": child_dagster_full, "dagster-sensor": child_dagster_sensor,
            "commit": child_commit, "count": child_count}


# ---------------------------------------------------------------- the run

def _generate(env: dict[str, str], options) -> list:
    os.environ.update(env)
    from auditoryx.settings import get_settings
    from operational.db import create_schema, make_engine
    from operational.generator import generate

    settings = get_settings()
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    started = time.perf_counter()
    tenants = generate(engine, tenants=options.tenants, seed=options.seed, as_of=settings.effective_as_of(),
                       password="x", target_bookings=options.bookings)
    engine.dispose()
    _say(f"generated {len(tenants):,} tenants / {sum(t.bookings for t in tenants):,} bookings "
         f"({options.backend}) in {time.perf_counter() - started:.1f}s")
    return tenants


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (" + ", ".join(f"{v:.2f}" for v in values) + ")"


def _one_booking_rounds(env, tenant, rounds: int) -> dict:
    process, inside, peak, rss = [], [], [], []
    for _ in range(rounds):
        expected = run_child(["commit", tenant.id], env)["expected"]
        result = run_child(["refresh", tenant.id], env)
        got = run_child(["count", tenant.id], env)["published"]
        assert got == expected, (tenant.slug, got, expected)
        process.append(result["process_s"])
        inside.append(result["inside_s"])
        peak.append(result["tree_peak_gb"])
        rss.append(result["tree_rss_gb"])
    return {"process": process, "inside": inside, "peak_gb": max(peak), "rss_gb": max(rss)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--bookings", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-dagster", action="store_true")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(CHILDREN[options.child[0]](options.child[1:])), flush=True)
        return

    folder = Path(tempfile.mkdtemp(prefix="auditoryx-refresh-scale-"))
    env = {**os.environ, "AUDITORYX_VAR_DIR": str(folder / "var"), "AUDITORYX_AS_OF": AS_OF,
           "PYTHONPATH": str(ROOT)}
    database = None
    if options.backend == "postgresql":
        from sqlalchemy import create_engine, text

        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        database = f"bench_refresh_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))  # a generated identifier, not a value
        env["AUDITORYX_OPERATIONAL_URL"] = admin.url.set(database=database).render_as_string(hide_password=False)
    _say(f"refresh_scale: {options.backend}, {options.tenants:,} tenants / {options.bookings:,} bookings, "
         f"seed {options.seed}, as of {AS_OF}, {os.cpu_count()} CPUs, folder {folder}")
    rows: dict[str, dict] = {}
    try:
        tenants = _generate(env, options)
        largest = max(tenants, key=lambda t: t.bookings)
        smallest = min((t for t in tenants if t.bookings), key=lambda t: t.bookings)

        full = run_child(["refresh"], env)
        rows["full"] = full
        _say(f"full refresh, empty warehouse: process {full['process_s']:.1f}s, inside {full['inside_s']:.1f}s, "
             f"peak {full['tree_peak_gb']:.2f} GB private+shared ({full['tree_rss_gb']:.2f} GB with mapped files), "
             f"{full['published_tenants']} published")

        nochange = [run_child(["refresh"], env) for _ in range(options.rounds)]
        assert all(r["republished"] == 0 for r in nochange), [r["republished"] for r in nochange]
        rows["nochange"] = {"process": [r["process_s"] for r in nochange], "inside": [r["inside_s"] for r in nochange],
                            "peak_gb": max(r["tree_peak_gb"] for r in nochange),
                            "rss_gb": max(r["tree_rss_gb"] for r in nochange)}
        _say(f"nothing changed, all tenants: process {_summary(rows['nochange']['process'])}, "
             f"inside {_summary(rows['nochange']['inside'])}; nothing republished")

        for name, tenant in (("largest", largest), ("smallest", smallest)):
            rows[name] = _one_booking_rounds(env, tenant, options.rounds)
            rows[name]["tenant"] = f"{tenant.slug} ({tenant.bookings:,} bookings)"
            _say(f"one booking, {name} tenant {rows[name]['tenant']}: process {_summary(rows[name]['process'])}, "
                 f"inside {_summary(rows[name]['inside'])}, peak {rows[name]['peak_gb']:.2f} GB")

        if not options.no_dagster:
            sensor = run_child(["dagster-sensor", str(options.rounds), largest.id, smallest.id], env)
            rows["sensor"] = sensor
            _say(f"sensor tick, nothing changed: {_summary(sensor['idle_tick_s'])}")
            for tenant in (largest, smallest):
                got = sensor["tenants"][tenant.id]
                ratio = statistics.median(got["sensor_path_s"]) / statistics.median(got["direct_s"])
                _say(f"{tenant.slug}: sensor path {_summary(got['sensor_path_s'])} (ticks "
                     f"{_summary(got['tick_s'])}) vs direct {_summary(got['direct_s'])}: {ratio:.2f}x")

            dagster_env = {**env, "AUDITORYX_VAR_DIR": str(folder / "var-dagster")}
            if options.backend == "sqlite":  # the same operational database, an empty warehouse
                dagster_env["AUDITORYX_OPERATIONAL_URL"] = f"sqlite:///{folder / 'var' / 'operational.sqlite'}"
            dagster_full = run_child(["dagster-full"], dagster_env)
            rows["dagster_full"] = dagster_full
            _say(f"full refresh through Dagster: process {dagster_full['process_s']:.1f}s, run "
                 f"{dagster_full['inside_s']:.1f}s, peak {dagster_full['tree_peak_gb']:.2f} GB; "
                 f"{dagster_full['inside_s'] / full['inside_s']:.2f}x the direct full refresh; steps {dagster_full['steps']}")

        base = full["inside_s"]
        print()
        print(f"| refresh ({options.backend}, {options.tenants:,} tenants / {options.bookings:,} bookings) "
              "| process (median) | inside (median) | vs full refresh | peak private+shared (RSS with mapped files) |")
        print("|---|---|---|---|---|")
        print(f"| full, empty warehouse | {full['process_s']:.1f} s | {base:.1f} s | 1 | "
              f"{full['tree_peak_gb']:.2f} GB ({full['tree_rss_gb']:.2f} GB) |")
        for key, label in (("nochange", "nothing changed, all tenants"),
                           ("largest", f"one booking, largest tenant {rows['largest']['tenant']}"),
                           ("smallest", f"one booking, smallest tenant {rows['smallest']['tenant']}")):
            row = rows[key]
            inside = statistics.median(row["inside"])
            print(f"| {label} | {statistics.median(row['process']):.2f} s | {inside:.2f} s | "
                  f"{inside / base:.3f} | {row['peak_gb']:.2f} GB ({row['rss_gb']:.2f} GB) |")
        if "dagster_full" in rows:
            print(f"| full through Dagster | {rows['dagster_full']['process_s']:.1f} s | "
                  f"{rows['dagster_full']['inside_s']:.1f} s | {rows['dagster_full']['inside_s'] / base:.2f} | "
                  f"{rows['dagster_full']['tree_peak_gb']:.2f} GB ({rows['dagster_full']['tree_rss_gb']:.2f} GB) |")
        if "sensor" in rows:
            for tenant in (largest, smallest):
                got = rows["sensor"]["tenants"][tenant.id]
                sensor_path, direct = statistics.median(got["sensor_path_s"]), statistics.median(got["direct_s"])
                print(f"| one booking, {tenant.slug}, change sensor → published | {sensor_path:.2f} s | "
                      f"direct in the same process {direct:.2f} s | {sensor_path / direct:.2f}× direct | |")
            print(f"| nothing changed, change sensor tick | | {statistics.median(rows['sensor']['idle_tick_s']):.3f} s "
                  "| no run requested | |")
        _say("done")
        print(json.dumps({k: v for k, v in rows.items()}, default=str))
    finally:
        if database:
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        if not os.environ.get("KEEP"):
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
