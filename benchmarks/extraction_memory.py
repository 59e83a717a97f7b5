"""Peak memory and time of a full extraction (operational database → empty build database), this
code against an earlier commit's, alternating in one run.

Each round runs ``extract_operational(mode="full")`` (what ``auditoryx ingest`` does on an empty
warehouse) in a child process with a fresh build database, once with the baseline commit's code
(``git archive`` of ``--baseline``) and once with this checkout's, and samples the child's process
tree every 0.2 s (private + shared memory, as in refresh_scale.py). Point it at an existing world
(``--url``; generate one with ``auditoryx generate --tenants 1000 --bookings 10000000 --seed 7``).
It also reports the time after the last table's reads (writing what waits, the watermarks and the
commit, with the checkpoint DuckDB runs then) and the connection's close.

    .venv/bin/python benchmarks/extraction_memory.py --url postgresql://postgres@127.0.0.1:5432/w10pg \
        --baseline 29dbb6a [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from refresh_scale import _say, peak_memory  # noqa: E402

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ingestion.extract import extract_operational
from ingestion.operational_source import open_operational
from warehouse.build_db import connect_build
conn = connect_build(sys.argv[3])
last = []
started = time.perf_counter()
with open_operational(sys.argv[2]) as reader:
    result = extract_operational(reader, conn, mode="full", progress=lambda _: last.append(time.perf_counter()))
returned = time.perf_counter()
conn.close()
print(json.dumps({"seconds": time.perf_counter() - started, "rows": sum(result.rows.values()),
                  "bookings": result.rows["bookings"], "commit_s": returned - max(last),
                  "close_s": time.perf_counter() - returned}))
"""


def _baseline_tree(revision: str) -> Path:
    target = Path(tempfile.mkdtemp(prefix="auditoryx-extraction-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision,
                              "ingestion", "warehouse", "operational", "auditoryx"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def measure(code: Path, url: str) -> dict:
    """One full extraction with ``code`` into a fresh build database: seconds, rows, peak GB."""
    with tempfile.TemporaryDirectory(prefix="auditoryx-extraction-memory-") as folder:
        process = subprocess.Popen([sys.executable, "-c", CHILD, str(code), url, str(Path(folder) / "build.duckdb")],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder)
        with peak_memory(process.pid) as peak:
            out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"extraction with {code} failed:\n{err[-4000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_gb"] = peak["anon_shmem"] / 2**30
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the operational database to extract from")
    parser.add_argument("--baseline", required=True, help="the commit whose extraction is the baseline")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    codes = {"baseline": _baseline_tree(options.baseline), "this code": ROOT}
    runs: dict[str, list[dict]] = {name: [] for name in codes}
    for round_number in range(options.rounds):
        for name, code in codes.items():
            result = measure(code, options.url)
            runs[name].append(result)
            _say(f"round {round_number + 1}, {name}: {result['seconds']:.1f} s, {result['rows']:,} rows "
                 f"({result['bookings']:,} bookings), peak {result['peak_gb']:.2f} GB; after the last table's "
                 f"reads (commit) {result['commit_s']:.2f} s, closing {result['close_s']:.2f} s")
    base, mine = runs["baseline"], runs["this code"]
    assert [r["rows"] for r in base] == [r["rows"] for r in mine], "both extract the same rows"
    peak_base, peak_mine = max(r["peak_gb"] for r in base), max(r["peak_gb"] for r in mine)
    time_base = statistics.median(r["seconds"] for r in base)
    time_mine = statistics.median(r["seconds"] for r in mine)
    commit_base = statistics.median(r["commit_s"] + r["close_s"] for r in base)
    commit_mine = statistics.median(r["commit_s"] + r["close_s"] for r in mine)
    _say(f"peak: baseline {peak_base:.2f} GB, this code {peak_mine:.2f} GB ({peak_mine / peak_base:.2f}×); "
         f"time: baseline {time_base:.1f} s, this code {time_mine:.1f} s ({time_mine / time_base:.2f}×); "
         f"commit and close: baseline {commit_base:.2f} s, this code {commit_mine:.2f} s; "
         f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
