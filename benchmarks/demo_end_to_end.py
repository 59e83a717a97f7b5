"""Time `auditoryx demo --no-serve` (3 tenants, ~4,800 bookings) in a fresh folder.

Prints the wall time of each run and its ratio to the 60 s target of the walking-skeleton issue,
next to a baseline measured in the same run: the bare start-up of the CLI (`auditoryx --help`),
so machine noise shows in both numbers.

    .venv/bin/python benchmarks/demo_end_to_end.py [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 60.0
AUDITORYX = str(Path(sys.executable).with_name("auditoryx"))


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([AUDITORYX, *args], check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    demo_times, startup_times = [], []
    for run in range(options.runs):
        with tempfile.TemporaryDirectory() as folder:
            env = {**os.environ, "AUDITORYX_VAR_DIR": folder}
            startup_times.append(timed(["--help"], env))
            demo_times.append(timed(["demo", "--no-serve"], env))
            rerun = timed(["demo", "--no-serve"], env)
        print(f"run {run + 1}: demo {demo_times[-1]:.2f}s, rerun on existing data {rerun:.2f}s, "
              f"CLI start-up {startup_times[-1]:.2f}s")
    demo, startup = statistics.median(demo_times), statistics.median(startup_times)
    print(f"median demo --no-serve: {demo:.2f}s = {demo / TARGET_SECONDS:.2f} × the 60 s target; "
          f"{demo / startup:.1f} × the CLI start-up baseline ({startup:.2f}s)")


if __name__ == "__main__":
    main()
