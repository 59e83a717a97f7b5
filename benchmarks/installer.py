"""Time a cold install of the project (the `make install` step of a fresh clone) with pip and
with uv, in the same run, and print the ratio.

Each installer gets a new virtual environment and an empty cache, so both download every wheel
(from the machine's configured package indexes). uv's time includes fetching uv itself with pip.

    python3.11 benchmarks/installer.py [--runs 1]
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

PROJECT = Path(__file__).resolve().parent.parent


def _venv(folder: Path) -> str:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return str(folder / "bin" / "python")


def timed_install(installer: str, folder: Path) -> float:
    python = _venv(folder / "venv")
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "UV_CACHE_DIR": str(folder / "uv-cache")}
    started = time.perf_counter()
    subprocess.run([python, str(PROJECT / "scripts" / "install.py"), str(folder / "venv"),
                    "--installer", installer], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    subprocess.run([python, "-c", "import auditoryx.cli, dbt.version, dagster, streamlit"], check=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    options = parser.parse_args()
    times: dict[str, list[float]] = {"pip": [], "uv": []}
    for _ in range(options.runs):
        for installer in ("uv", "pip"):
            with tempfile.TemporaryDirectory() as folder:
                times[installer].append(timed_install(installer, Path(folder)))
    pip_s, uv_s = statistics.median(times["pip"]), statistics.median(times["uv"])
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"pip: {pip_s:.1f} s  uv: {uv_s:.1f} s  (median of {options.runs}; uv is {pip_s / uv_s:.1f}x faster)")


if __name__ == "__main__":
    main()
