"""Where a full refresh's time and CPU go, phase by phase: this code against an earlier commit's,
alternating in one run (the order swapped every round).

Each round runs ``auditoryx.pipeline.refresh`` into an empty warehouse (a fresh var folder; the
operational database of an existing world, ``--url``) in a child process, once with the baseline
commit's code (``git archive`` of ``--baseline``) and once with this checkout's. At each progress
line the child records the wall time and the CPU seconds of its process tree (its own threads,
children it waited for and live children: the SQLite readers, the answers' workers), so each
phase (extraction, dbt, publishing) gets wall, CPU and CPU ÷ wall (2.0 = both cores busy all
along). The parent samples the tree's peak memory (private + shared, as refresh_scale.py).
The lower bound of a phase on this machine is its CPU ÷ the cores.

    .venv/bin/python benchmarks/full_refresh_budget.py --url sqlite:////tmp/w10/operational.sqlite \
        --as-of 2026-10-15 --baseline d917342 [--rounds 2]
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

from refresh_scale import _children_map, _say, peak_memory  # noqa: E402

# progress lines that end a phase (auditoryx/pipeline.py, warehouse/publish.py); publishing is
# the last three: the marts' files, the pages' stored answers, the rest (syncing, pointers, platform)
PHASES = (("extraction", "running dbt build"), ("dbt", "dbt build done"), ("publish: files", "tables for"),
          ("publish: answers", "stored answers"), ("publish: rest", None))

CHILD = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from full_refresh_budget import tree_cpu
from auditoryx.pipeline import refresh
from auditoryx.settings import get_settings
marks = []
def progress(message):
    marks.append((message, time.perf_counter(), tree_cpu(os.getpid())))
marks.append(("start", time.perf_counter(), tree_cpu(os.getpid())))
result = refresh(get_settings(), None, progress=progress)
marks.append(("end", time.perf_counter(), tree_cpu(os.getpid())))
print(json.dumps({"marks": marks, "published": len(result.publication.tenant_ids)}))
"""

_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid``'s threads, of the children it waited for, and of
    every live descendant (with the children they waited for)."""
    children, stack, ticks = _children_map(), [pid], 0
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, ()))
        try:
            with open(f"/proc/{current}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # ended since the listing: its parent counts it once it is waited for
        ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / _TICK


def _code_tree(revision: str) -> Path:
    target = Path(tempfile.mkdtemp(prefix="auditoryx-budget-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def phases(marks: list) -> dict[str, dict[str, float]]:
    """Phase → wall and CPU seconds, from the child's (message, wall, cpu) marks."""
    out: dict[str, dict[str, float]] = {}
    _, wall_at, cpu_at = marks[0]
    rest = marks[1:]
    for name, ends_with in PHASES:
        index = len(rest) - 1 if ends_with is None else next(
            i for i, mark in enumerate(rest) if ends_with in mark[0])
        _, wall_end, cpu_end = rest[index]
        out[name] = {"wall": wall_end - wall_at, "cpu": cpu_end - cpu_at}
        wall_at, cpu_at, rest = wall_end, cpu_end, rest[index + 1:]
    out["total"] = {"wall": sum(p["wall"] for p in out.values()), "cpu": sum(p["cpu"] for p in out.values())}
    return out


def measure(code: Path, url: str, as_of: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="auditoryx-budget-") as folder:
        env = {**os.environ, "AUDITORYX_VAR_DIR": folder, "AUDITORYX_OPERATIONAL_URL": url,
               "AUDITORYX_AS_OF": as_of, "PYTHONPATH": str(code)}
        process = subprocess.Popen([sys.executable, "-c", CHILD, str(code), str(BENCH)], env=env, cwd=folder,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with peak_memory(process.pid) as peak:
            out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"refresh with {code} failed:\n{err[-4000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return {"phases": phases(result["marks"]), "published": result["published"],
            "peak_gb": peak["anon_shmem"] / 2**30}


def _line(name: str, result: dict) -> str:
    return ", ".join(f"{phase} {v['wall']:.1f} s / {v['cpu']:.1f} CPU s ({v['cpu'] / v['wall']:.2f})"
                     for phase, v in result["phases"].items()) + f"; peak {result['peak_gb']:.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the operational database of a generated world")
    parser.add_argument("--as-of", required=True, help="the world's AUDITORYX_AS_OF")
    parser.add_argument("--baseline", required=True, help="the commit whose refresh is the baseline")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    codes = {"baseline": _code_tree(options.baseline), "this code": ROOT}
    runs: dict[str, list[dict]] = {name: [] for name in codes}
    for round_number in range(options.rounds):
        order = list(codes.items())
        for name, code in order if round_number % 2 == 0 else reversed(order):  # ABBA: no side always first
            result = measure(code, options.url, options.as_of)
            runs[name].append(result)
            _say(f"round {round_number + 1}, {name} ({result['published']} tenants published): {_line(name, result)}")
    cores = len(os.sched_getaffinity(0))
    for name, results in runs.items():
        summary = {phase: {key: statistics.median(r["phases"][phase][key] for r in results) for key in ("wall", "cpu")}
                   for phase in results[0]["phases"]}
        total = summary["total"]
        _say(f"median, {name}: " + ", ".join(f"{p} {v['wall']:.1f} s / {v['cpu']:.1f} CPU s"
                                             for p, v in summary.items())
             + f"; at best {total['cpu'] / cores:.1f} s on {cores} cores; peak "
               f"{max(r['peak_gb'] for r in results):.2f} GB")
    base = statistics.median(r["phases"]["total"]["wall"] for r in runs["baseline"])
    mine = statistics.median(r["phases"]["total"]["wall"] for r in runs["this code"])
    _say(f"total wall: baseline {base:.1f} s, this code {mine:.1f} s ({mine / base:.2f}×); "
         f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
