"""Booking-to-dashboard latency through the real sensor path.

A booking is committed in the operational database; the `operational_change_sensor` (evaluated
every --poll seconds, as the Dagster daemon would) requests a run of exactly that tenant; the
`refresh_tenants` job runs it (extract → dbt build → publish); we stop the clock when the
tenant's published snapshot counts the booking. The baseline, measured in the same run, is the
same one-tenant refresh called directly (`auditoryx.pipeline.refresh`, no Dagster, no sensor).

    .venv/bin/python benchmarks/booking_latency.py [--rounds 3] [--poll 0.5]
"""
from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg
from sqlalchemy import insert, select
from sqlalchemy.orm import Session


def _commit_booking(engine, tenant_id: str, as_of: dt.date) -> None:
    from operational.models import Artist, Booking

    end = dt.datetime(as_of.year, as_of.month, as_of.day, 9, tzinfo=dt.timezone.utc) - dt.timedelta(days=1)
    with Session(engine) as session, session.begin():
        artist_id = session.scalar(select(Artist.id).where(Artist.org_id == tenant_id).limit(1))
        session.execute(insert(Booking), [{
            "id": str(uuid.uuid4()), "org_id": tenant_id, "artist_id": artist_id, "title": "Latency probe",
            "type": "MIXING", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=2), "end_date": end,
            "duration_minutes": 120, "timezone": "UTC", "final_price": decimal.Decimal("100.00"),
            "currency": "USD", "payment_status": "PAID",
        }])


def _published_bookings(settings, tenant_id: str) -> int:
    from warehouse.reader import SnapshotNotFound, open_tenant_snapshot

    try:
        snap = open_tenant_snapshot(settings.published_dir, tenant_id)
    except SnapshotNotFound:
        return -1
    try:
        return int(snap.meta()["row_counts"]["bookings"])
    finally:
        snap.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="booking → published snapshot latency")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--poll", type=float, default=0.5, help="sensor evaluation interval (s)")
    options = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="auditoryx-latency-")
    os.environ["AUDITORYX_VAR_DIR"] = folder
    os.environ.setdefault("AUDITORYX_AS_OF", dt.date.today().isoformat())
    from auditoryx.pipeline import refresh
    from auditoryx.settings import get_settings
    from operational.db import create_schema, make_engine
    from operational.generator import generate
    from pipelines.definitions import defs as load_defs

    settings = get_settings()
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    tenants = generate(engine, tenants=3, seed=42, as_of=settings.effective_as_of(), password="x")
    tenant = tenants[1]
    defs = load_defs()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", [t.id for t in tenants])
    job = defs.resolve_job_def("refresh_tenants")
    sensor = defs.get_sensor_def("operational_change_sensor")
    sensor_job = defs.resolve_job_def(sensor.job_name)  # what the sensor's run requests start
    first = job.execute_in_process(instance=instance, tags={
        "dagster/asset_partition_range_start": tenants[0].id, "dagster/asset_partition_range_end": tenants[-1].id})
    assert first.success
    cursor = sensor(dg.build_sensor_context(instance=instance, definitions=defs)).cursor

    baseline, latency = [], []
    for round_number in range(options.rounds):
        # baseline: commit, then refresh the tenant directly
        expected = _published_bookings(settings, tenant.id) + 1
        _commit_booking(engine, tenant.id, settings.effective_as_of())
        started = time.perf_counter()
        refresh(settings, [tenant.id])
        got = _published_bookings(settings, tenant.id)
        assert got == expected, (got, expected)
        baseline.append(time.perf_counter() - started)
        cursor = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)).cursor

        # through the sensor: commit, poll the sensor, run what it requests
        expected += 1
        _commit_booking(engine, tenant.id, settings.effective_as_of())
        committed = time.perf_counter()
        requested = []
        while not requested:
            time.sleep(options.poll)
            result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))
            cursor, requested = result.cursor, result.run_requests
        assert [r.partition_key for r in requested] == [tenant.id]
        assert sensor_job.execute_in_process(instance=instance, partition_key=tenant.id).success
        assert _published_bookings(settings, tenant.id) == expected
        latency.append(time.perf_counter() - committed)
        print(f"round {round_number + 1}: sensor path {latency[-1]:.2f}s, direct refresh {baseline[-1]:.2f}s")

    median, base = statistics.median(latency), statistics.median(baseline)
    print(json.dumps({"median_latency_s": round(median, 2), "median_direct_refresh_s": round(base, 2),
                      "ratio_to_direct": round(median / base, 2), "poll_s": options.poll,
                      "target_10s": median < 10, "goal_5s": median < 5}))


if __name__ == "__main__":
    main()
