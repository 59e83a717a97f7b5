"""One booking committed → published, this code against a baseline commit, alternating in one run.

On an existing world (the environment names it: AUDITORYX_VAR_DIR, AUDITORYX_OPERATIONAL_URL,
AUDITORYX_AS_OF; e.g. `auditoryx generate` + `auditoryx refresh`), each child process runs
``--rounds`` rounds per tenant of: commit one booking, ``refresh(settings, [tenant])``, check the
published booking count. The children alternate: baseline, this code, baseline, this code…
(``--repeat`` pairs). Within a child, the first round pays for imports and dbt's first parse; the
medians are of the rounds after it (a worker or a Dagster run process refreshes more than once).

The baseline is the commit's Python packages (``git archive``) with **this checkout's dbt
project**: the build database's project fingerprint must be the same for both, or each switch
would rebuild everything; the difference measured is the code that runs the project.

    .venv/bin/python benchmarks/one_booking_code.py --baseline 84c3999 --tenant kanto-talent \\
        --tenant tenant-0219 [--rounds 3] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("auditoryx", "ingestion", "warehouse", "operational", "pipelines", "reports", "dashboards")

CHILD = r"""
import json, sys, time
code, benchmarks, rounds, tenants = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
sys.path[:0] = [code, benchmarks]
from auditoryx.pipeline import refresh
from auditoryx.settings import get_settings
from booking_latency import _commit_booking, _published_bookings
from operational.db import make_engine

settings = get_settings()
engine = make_engine(settings.operational_database_url)
out = {}
for tenant in tenants:
    rows = []
    for _ in range(rounds):
        expected = _published_bookings(settings, tenant) + 1
        _commit_booking(engine, tenant, settings.effective_as_of())
        marks = {}
        started = time.perf_counter()
        def progress(message):
            elapsed = time.perf_counter() - started
            if "running dbt build" in message:
                marks["extracted"] = elapsed
            elif message.startswith("publishing tenant snapshots"):
                marks.setdefault("built", elapsed)
        refresh(settings, [tenant], progress=progress)
        total = time.perf_counter() - started
        assert _published_bookings(settings, tenant) == expected, (tenant, "not published")
        results = json.loads((settings.dbt_work_dir / "target" / "run_results.json").read_text())["results"]
        rows.append({"total": total, "extract": marks.get("extracted", 0.0),
                     "dbt": marks.get("built", total) - marks.get("extracted", 0.0),
                     "publish": total - marks.get("built", total),
                     "tests": sum(1 for r in results if r["unique_id"].startswith("test."))})
    out[tenant] = rows
engine.dispose()
print(json.dumps(out))
"""


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {_load()}] {message}", flush=True)


def _baseline_tree(revision: str) -> Path:
    target = Path(tempfile.mkdtemp(prefix="auditoryx-one-booking-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision, *PACKAGES],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    shutil.copytree(ROOT / "dbt_project", target / "dbt_project",
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return target


def _run(code: Path, rounds: int, tenant_ids: list[str]) -> dict[str, list[dict]]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(code), str(ROOT / "benchmarks"), str(rounds), *tenant_ids],
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise SystemExit(f"the child with {code} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit whose code is the baseline")
    parser.add_argument("--tenant", action="append", required=True, help="tenant slug (repeatable)")
    parser.add_argument("--rounds", type=int, default=3, help="refreshes per tenant and child (the first is a warm-up)")
    parser.add_argument("--repeat", type=int, default=2, help="baseline/this-code pairs of children")
    options = parser.parse_args()
    if options.rounds < 2:
        raise SystemExit("--rounds must be at least 2 (the first round of a child is a warm-up)")

    sys.path.insert(0, str(ROOT))
    from auditoryx.settings import get_settings
    from operational.db import make_engine
    from operational.tenants import tenant_id_for_slug

    engine = make_engine(get_settings().operational_database_url)
    tenant_ids = {slug: tenant_id_for_slug(engine, slug) for slug in options.tenant}
    engine.dispose()
    codes = {"baseline": _baseline_tree(options.baseline), "this code": ROOT}
    warm: dict[str, dict[str, list[dict]]] = {name: {slug: [] for slug in tenant_ids} for name in codes}
    try:
        for _ in range(options.repeat):
            for name, code in codes.items():
                got = _run(code, options.rounds, list(tenant_ids.values()))
                for slug, tenant_id in tenant_ids.items():
                    rows = got[tenant_id]
                    warm[name][slug] += rows[1:]
                    _say(f"{name:9} {slug}: " + ", ".join(f"{r['total']:.2f}" for r in rows)
                         + f" s (first round {rows[0]['total']:.2f} s)")
    finally:
        shutil.rmtree(codes["baseline"], ignore_errors=True)
    for slug in tenant_ids:
        base, mine = warm["baseline"][slug], warm["this code"][slug]
        parts = ", ".join(f"{key} {_median(base, key):.2f} → {_median(mine, key):.2f}" for key in ("extract", "dbt", "publish"))
        _say(f"{slug}: baseline {_median(base, 'total'):.2f} s, this code {_median(mine, 'total'):.2f} s "
             f"({_median(mine, 'total') / _median(base, 'total'):.2f}×); {parts}; "
             f"{mine[-1]['tests']} data tests")


if __name__ == "__main__":
    main()
