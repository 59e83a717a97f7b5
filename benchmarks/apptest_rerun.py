"""AppTest rerun of the label dashboard, next to an AppTest rerun of a trivial page (the cost of
AppTest and Streamlit themselves), in one run.

Builds its own data under a temporary folder (as benchmarks/browser_pages.py: the generator's
first tenants on SQLite, one real refresh), logs in through the app's login form with AppTest,
then times ``at.run()`` with nothing changed (a rerun: cached data, the same figures) many times.
Target: label dashboard rerun < 40 ms. ``--profile`` prints where one rerun's time goes (cProfile,
cumulative, the project's own functions and Streamlit's biggest).

Usage: .venv/bin/python benchmarks/apptest_rerun.py [--reruns 40] [--tenants 3] [--scale 1.0]
       [--tenant-index 0] [--profile]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TRIVIAL_PAGE = textwrap.dedent("""
    import streamlit as st
    st.set_page_config(page_title="trivial", layout="wide")
    st.title("Trivial page")
    st.metric("Bookings", "42", delta="+3")
    st.caption("One title, one metric, one caption.")
""")


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _apptest_support():
    path = ROOT / "tests" / "dashboards" / "apptest_support.py"
    spec = importlib.util.spec_from_file_location("auditoryx_bench_apptest_support", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time_reruns(at, reruns: int) -> list[float]:
    times = []
    for _ in range(reruns):
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        assert not at.exception, at.exception
    return times


def _row(name: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"{name:34} {statistics.median(ms):8.1f} {min(ms):8.1f} {max(ms):8.1f}"


def _profile(at) -> None:
    import cProfile
    import pstats

    from streamlit.runtime.scriptrunner import script_runner

    profiler = cProfile.Profile()
    original = script_runner.ScriptRunner._run_script

    def profiled(self, rerun_data):  # the script runs in its own thread: profile it there
        profiler.enable()
        try:
            return original(self, rerun_data)
        finally:
            profiler.disable()

    script_runner.ScriptRunner._run_script = profiled
    try:
        for _ in range(10):
            at.run()
    finally:
        script_runner.ScriptRunner._run_script = original
    stats = pstats.Stats(profiler)
    print("\nprofile of 10 reruns' script thread (cumulative seconds, biggest first):")
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][3])
    for (filename, line, name), (_cc, calls, _tt, cumulative, _callers) in rows[:70]:
        where = filename.replace(str(ROOT) + os.sep, "").split("site-packages/")[-1]
        if cumulative < 0.01:
            continue
        print(f"  {cumulative:7.3f} s {calls:6d}×  {where}:{line} {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=40)
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tenant-index", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import browser_pages
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory(prefix="auditoryx-apptest-bench-") as tmp:
        folder = Path(tmp)
        _env, tenants = browser_pages.build(folder, args.tenants, args.scale)
        tenant = tenants[args.tenant_index]
        support = _apptest_support()
        print(f"tenant: {tenant.name} ({tenant.bookings:,} bookings); load average before: {_load()}")

        trivial_file = folder / "trivial.py"
        trivial_file.write_text(TRIVIAL_PAGE)
        trivial = AppTest.from_file(str(trivial_file), default_timeout=30).run()

        started = time.perf_counter()
        at = support.login(tenant.admin_email, browser_pages.PASSWORD)
        login_run = time.perf_counter() - started
        assert at.metric, "the label dashboard did not render"
        for _ in range(3):  # warm: the first reruns may still fill caches
            at.run()
            trivial.run()

        # interleaved, so that a change of machine load hits both alike
        label_times, trivial_times = [], []
        for _ in range(args.reruns):
            label_times += _time_reruns(at, 1)
            trivial_times += _time_reruns(trivial, 1)
        print(f"load average after: {_load()}")
        print(f"login (AppTest, first run of a fresh session): {login_run * 1000:.0f} ms")
        print(f"\n{'AppTest rerun':34} {'median':>8} {'min':>8} {'max':>8}  (ms, {args.reruns} reruns)")
        print(_row("trivial page (baseline)", trivial_times))
        print(_row("label dashboard", label_times))
        extra = (statistics.median(label_times) - statistics.median(trivial_times)) * 1000
        print(f"label dashboard minus baseline: {extra:.1f} ms   target: label dashboard < 40 ms")
        if args.profile:
            _profile(at)


if __name__ == "__main__":
    main()
