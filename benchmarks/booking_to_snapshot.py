"""Booking entered through the app's path → visible in the tenant's published snapshot.

The app path: `operational.bookings.create_booking` (the booking service, conflict check in the
write transaction), then `auditoryx.refresh_requests.request_tenant_refresh`, as the page does,
in two modes: `worker` (a request for the running `auditoryx worker`, which refreshes in-process)
and `direct` (a one-off `auditoryx refresh --tenant <slug>` process). The clock stops when the
tenant's published snapshot counts the booking (polled every 50 ms). Baseline in the same run:
the same one-tenant refresh called in-process (`auditoryx.pipeline.refresh`), no service.

    .venv/bin/python benchmarks/booking_to_snapshot.py [--tenants 1000 --bookings 10000000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from booking_latency import _published_bookings  # noqa: E402  (same folder: one way to count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--bookings", type=int, default=None, help="total bookings (default: demo sizes)")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="auditoryx-booking-latency-")
    os.environ["AUDITORYX_VAR_DIR"] = folder
    # generated rows are stamped up to the end of the as-of day: yesterday keeps them in the past,
    # so that the incremental extraction's watermark (newest updated_at) is older than a new booking
    os.environ.setdefault("AUDITORYX_AS_OF", (dt.date.today() - dt.timedelta(days=1)).isoformat())
    os.environ["AUDITORYX_REFRESH_ON_WRITE"] = "worker"
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from auditoryx.pipeline import refresh
    from auditoryx.refresh_requests import request_tenant_refresh
    from auditoryx.settings import get_settings
    from operational.bookings import create_booking
    from operational.booking_rules import BookingDraft
    from operational.db import create_schema, make_engine
    from operational.generator import generate
    from operational.models import Artist
    from operational.permissions import command_line_operator

    settings = get_settings()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    started = time.perf_counter()
    tenants = generate(engine, tenants=options.tenants, seed=42, as_of=settings.effective_as_of(), password="x",
                       target_bookings=options.bookings)
    print(f"generated {options.tenants} tenants in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    refresh(settings, mode="full")
    print(f"full refresh in {time.perf_counter() - started:.1f}s")
    import subprocess

    worker = subprocess.Popen([sys.executable, "-m", "auditoryx.cli", "worker", "--poll", "0.05"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from auditoryx.refresh_worker import worker_alive

    while not worker_alive(settings):
        time.sleep(0.1)
    direct_settings = get_settings(refresh_on_write="direct")
    tenant = tenants[len(tenants) // 2]
    actor = command_line_operator(tenant.id)
    with Session(engine) as session:
        artist_ids = list(session.scalars(select(Artist.id).where(Artist.org_id == tenant.id, Artist.is_active)))
    as_of = settings.effective_as_of()

    def booking(round_number: int, kind: str) -> BookingDraft:
        # a distinct slot each time, in the past week (counted in the snapshot, no conflicts)
        start = dt.datetime.combine(as_of - dt.timedelta(days=7), dt.time(0)) + dt.timedelta(
            minutes=30 * (3 * round_number + ("baseline", "worker", "direct").index(kind)))
        return BookingDraft(artist_id=artist_ids[0], title=f"Latency {kind} {round_number}", type="MIXING",
                            start_local=start, end_local=start + dt.timedelta(minutes=20), timezone="UTC",
                            is_remote=True, status="DRAFT")

    def app_path(kind: str, mode_settings, round_number: int, expected: int) -> float:
        clock = time.perf_counter()
        create_booking(engine, actor, booking(round_number, kind))
        request = request_tenant_refresh(mode_settings, tenant.id, tenant.slug)
        assert request.mode == kind, request
        while _published_bookings(settings, tenant.id) < expected:
            time.sleep(0.05)
        return time.perf_counter() - clock

    baseline, via_worker, via_direct = [], [], []
    try:
        for round_number in range(options.rounds):
            expected = _published_bookings(settings, tenant.id) + 1
            create_booking(engine, actor, booking(round_number, "baseline"))
            clock = time.perf_counter()
            refresh(settings, [tenant.id])
            baseline.append(time.perf_counter() - clock)
            assert _published_bookings(settings, tenant.id) == expected
            via_worker.append(app_path("worker", settings, round_number, expected + 1))
            via_direct.append(app_path("direct", direct_settings, round_number, expected + 2))
            print(f"round {round_number + 1}: worker {via_worker[-1]:.2f}s, direct process {via_direct[-1]:.2f}s, "
                  f"in-process refresh {baseline[-1]:.2f}s, load {os.getloadavg()[0]:.2f}")
    finally:
        worker.terminate()
    base = statistics.median(baseline)
    worker_s, direct_s = statistics.median(via_worker), statistics.median(via_direct)
    print(json.dumps({"tenants": options.tenants, "bookings": options.bookings, "rounds": options.rounds,
                      "median_worker_s": round(worker_s, 2), "median_direct_process_s": round(direct_s, 2),
                      "median_in_process_refresh_s": round(base, 2), "worker_ratio": round(worker_s / base, 2),
                      "direct_ratio": round(direct_s / base, 2), "target_5s": worker_s < 5, "goal_2s": worker_s < 2}))


if __name__ == "__main__":
    main()
