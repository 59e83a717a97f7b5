"""The pages' stored answers of every tenant's version, composed as publishing does: in threads of
the publishing process (the way before worker processes) against worker processes, alternating in
one run.

Point it at a var folder holding a published world (``auditoryx refresh`` done), e.g. the
1,000 tenants / 10M bookings one of refresh_scale.py. Each round recomposes and rewrites
``page_answers.bin`` in the current version of each of the first ``--tenants`` tenants (the same
answers again: safe on a bench world), once per way, in a fresh child process each (imports and
worker start-up included, as in a refresh), and reports wall and CPU seconds (the process and its
workers) with the load average.

    .venv/bin/python benchmarks/page_answers_publish.py --var-dir /tmp/w10 [--tenants 1000] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from refresh_scale import _say  # noqa: E402

CHILD = """
import json, os, sys, time
from pathlib import Path
import warehouse.publish as publish
from auditoryx.pipeline import _store_page_answers
from warehouse.layout import read_pointer
way, published, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
tenants = sorted(p.name for p in published.iterdir() if not p.name.startswith("_"))[:count]
versions = {t: read_pointer(published / t) for t in tenants}
by_version = {}
for tenant, version in versions.items():
    by_version.setdefault(version, []).append(tenant)
if way == "threads":
    publish.ANNOTATE_PROCESS_MIN = 10**9
started, before = time.perf_counter(), os.times()
for version, group in by_version.items():
    publish._annotate_versions(_store_page_answers, published, group, version)
after = os.times()
cpu = (after.user + after.system + after.children_user + after.children_system
       - before.user - before.system - before.children_user - before.children_system)
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": cpu, "versions": len(tenants)}))
"""


def _run(way: str, published: Path, tenants: int, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, way, str(published), str(tenants)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the {way} child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--var-dir", required=True, type=Path)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    published = options.var_dir.resolve() / "warehouse" / "published"
    env = {**os.environ, "AUDITORYX_VAR_DIR": str(options.var_dir.resolve())}
    seconds: dict[str, list[float]] = {"threads": [], "processes": []}
    for round_number in range(1, options.rounds + 1):
        for way in ("threads", "processes"):
            result = _run(way, published, options.tenants, env)
            seconds[way].append(result["seconds"])
            _say(f"round {round_number}, {way}: {result['versions']} versions in {result['seconds']:.1f} s, "
                 f"CPU {result['cpu']:.1f} s")
    before, after = statistics.median(seconds["threads"]), statistics.median(seconds["processes"])
    _say(f"median: threads {before:.1f} s, processes {after:.1f} s ({after / before:.2f}×)")


if __name__ == "__main__":
    main()
