"""Dagster: definitions load and validate; extraction and dbt materialize once per run, publishing
per tenant; sensors decide right."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from auditoryx.settings import PROJECT_ROOT
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Booking, Organization
from warehouse.layout import current_version


def _definitions() -> dg.Definitions:
    from pipelines.definitions import defs

    return defs()


@pytest.fixture
def tenants(app_env):
    engine = make_engine(app_env.operational_database_url)
    create_schema(engine)
    generated = generate(engine, tenants=3, seed=5, as_of=app_env.as_of, password="pw", scale=0.15)
    yield engine, generated
    engine.dispose()


def test_definitions_validate_from_workspace(app_env, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "All code locations passed validation" in result.stdout + result.stderr
    assert (app_env.dbt_work_dir / "target" / "manifest.json").is_file()  # prepared, outside the repo


def test_graph_shape(app_env):
    defs = _definitions()
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/bookings", "stg_operational__bookings", "fct_revenue_monthly", "top_performers",
            "tenant_snapshots"} <= keys
    names = {s.name for s in defs.schedules} | {s.name for s in defs.sensors}
    assert {"periodic_refresh", "nightly_reconciliation", "weekly_report_exports", "tenant_sync_sensor",
            "operational_change_sensor", "file_drop_sensor"} <= names
    assert "report_exports" in keys


def test_one_tenant_run_publishes_only_that_tenant(app_env, tenants):
    engine, generated = tenants
    defs = _definitions()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", [t.id for t in generated])
    job = defs.resolve_job_def("refresh_tenants")
    everyone = job.execute_in_process(instance=instance, tags={
        "dagster/asset_partition_range_start": generated[0].id,
        "dagster/asset_partition_range_end": generated[-1].id})
    assert everyone.success
    versions = {t.id: current_version(app_env.published_dir, t.id) for t in generated}
    assert all(versions.values())
    # extraction and dbt record one materialization per asset for the run, publishing one per tenant
    materialized = _materializations(everyone)
    assert materialized["raw/bookings"] == [None] and materialized["fct_revenue_monthly"] == [None]
    assert sorted(materialized["tenant_snapshots"]) == sorted(t.id for t in generated)
    checks = [e for e in everyone.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(e.event_specific_data.passed for e in checks
                          if e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR)

    with Session(engine) as session, session.begin():  # a change in that tenant: the build is scoped to it
        booking = session.query(Booking).filter(Booking.org_id == generated[1].id, Booking.status == "COMPLETED",
                                                Booking.final_price.is_not(None)).first()
        booking.final_price = booking.final_price + 1  # published revenue changes: a new version
    one = job.execute_in_process(instance=instance, partition_key=generated[1].id)
    assert one.success
    assert _materializations(one)["tenant_snapshots"] == [generated[1].id]
    dbt_status = {e.event_specific_data.materialization.asset_key.to_user_string():
                  e.event_specific_data.materialization.metadata["status"].value
                  for e in one.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
                  and "status" in e.event_specific_data.materialization.metadata}
    # as the direct refresh: the views and the FX seed are left as they were, the bookings models rebuilt
    assert dbt_status["stg_operational__bookings"] == "unchanged" and dbt_status["fx_rates"] == "unchanged"
    assert dbt_status["fct_revenue_monthly"] == "success"
    extracted = [e.event_specific_data.materialization for e in one.all_events
                 if e.event_type_value == "ASSET_MATERIALIZATION"
                 and e.event_specific_data.materialization.asset_key == dg.AssetKey(["raw", "bookings"])]
    assert [m.metadata["tenants"].value for m in extracted] == [1]  # the run's tenant only
    complete = [e.event_specific_data for e in one.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
                and e.event_specific_data.check_name == "snapshots_complete"]
    assert complete[0].passed and complete[0].metadata["tenants"].value == 3
    assert complete[0].metadata["opened_one_by_one"].value == 1  # the run's tenant; the others in bulk
    assert current_version(app_env.published_dir, generated[1].id) != versions[generated[1].id]
    for other in (generated[0], generated[2]):
        assert current_version(app_env.published_dir, other.id) == versions[other.id]

    exports = defs.resolve_job_def("export_reports").execute_in_process(instance=instance,
                                                                        partition_key=generated[0].id)
    assert exports.success
    assert [p.parent.parent.parent.name for p in app_env.resolved_exports_dir.glob("*/*/*/manifest.json")] \
        == [generated[0].id]  # folders are named by tenant id, never by slug


def _materializations(result) -> dict[str, list[str | None]]:
    """asset → the partitions it was materialized for in the run (None: unpartitioned)."""
    found: dict[str, list[str | None]] = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            found.setdefault(materialization.asset_key.to_user_string(), []).append(materialization.partition)
    return found


def _evaluate(defs, name, instance, cursor=None):
    sensor = defs.get_sensor_def(name)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return sensor(context)


def test_tenant_sensor_adds_new_and_retires_deactivated(app_env, tenants):
    engine, generated = tenants
    defs = _definitions()
    instance = dg.DagsterInstance.ephemeral()
    result = _evaluate(defs, "tenant_sync_sensor", instance)
    added = [r for r in result.dynamic_partitions_requests if isinstance(r, dg.AddDynamicPartitionsRequest)]
    assert sorted(added[0].partition_keys) == sorted(t.id for t in generated)
    assert sorted(r.partition_key for r in result.run_requests) == sorted(t.id for t in generated)

    instance.add_dynamic_partitions("tenants", [t.id for t in generated])
    (app_env.published_dir / generated[2].id / "v1").mkdir(parents=True)  # a snapshot to retire
    with Session(engine) as session, session.begin():
        session.execute(update(Organization).where(Organization.id == generated[2].id).values(is_active=False))
    result = _evaluate(defs, "tenant_sync_sensor", instance)
    deleted = [r for r in result.dynamic_partitions_requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)]
    assert deleted[0].partition_keys == [generated[2].id] and not result.run_requests
    assert not (app_env.published_dir / generated[2].id).exists()


def test_change_sensor_requests_exactly_the_changed_tenant(app_env, tenants):
    engine, generated = tenants
    defs = _definitions()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", [t.id for t in generated])
    first = _evaluate(defs, "operational_change_sensor", instance)
    assert not first.run_requests and first.cursor
    quiet = _evaluate(defs, "operational_change_sensor", instance, first.cursor)
    assert not quiet.run_requests
    with Session(engine) as session, session.begin():
        booking = session.query(Booking).filter(Booking.org_id == generated[1].id).first()
        booking.notes = "moved"
    changed = _evaluate(defs, "operational_change_sensor", instance, quiet.cursor)
    assert [r.partition_key for r in changed.run_requests] == [generated[1].id]


def test_file_drop_sensor_requests_the_dropping_tenant(app_env, tenants):
    engine, generated = tenants
    defs = _definitions()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", [t.id for t in generated])
    assert not _evaluate(defs, "file_drop_sensor", instance).run_requests
    (app_env.resolved_landing_dir / generated[1].slug / "artists").mkdir(parents=True)  # a slug is no tenant folder
    (app_env.resolved_landing_dir / generated[1].slug / "artists" / "x.csv").write_text("id,name\n", encoding="utf-8")
    folder = app_env.resolved_landing_dir / generated[2].id / "artists"
    folder.mkdir(parents=True)
    (folder / "roster.csv").write_text("id,name\nnew-artist,Nova\n", encoding="utf-8")
    requests = _evaluate(defs, "file_drop_sensor", instance).run_requests
    assert [r.partition_key for r in requests] == [generated[2].id]


def test_a_failing_dbt_test_fails_only_its_tenants_partition(app_env, tenants):
    """A booking that cannot be converted (EUR before the FX seed's first rate): the dbt test is a
    failed (warning) check on int_bookings_enriched, the tenant's partition fails the check
    tenant_build_passed with the reason, and the run's other partitions publish."""
    import datetime as dt
    import uuid

    from sqlalchemy import insert, select

    from operational.models import Artist

    engine, generated = tenants
    tenant = generated[0]
    with Session(engine) as session, session.begin():
        artist_id = session.scalar(select(Artist.id).where(Artist.org_id == tenant.id).limit(1))
        end = dt.datetime(2021, 6, 3, 12, tzinfo=dt.timezone.utc)
        session.execute(insert(Booking), [{
            "id": str(uuid.uuid4()), "org_id": tenant.id, "artist_id": artist_id, "title": "No rate",
            "type": "MIXING", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=1), "end_date": end,
            "duration_minutes": 60, "timezone": "UTC", "final_price": 10, "currency": "EUR",
            "payment_status": "PAID"}])
    defs = _definitions()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", [t.id for t in generated])
    keys = sorted(t.id for t in generated)
    result = defs.resolve_job_def("refresh_tenants").execute_in_process(
        instance=instance, raise_on_error=False,
        tags={"dagster/asset_partition_range_start": generated[0].id,
              "dagster/asset_partition_range_end": generated[-1].id})

    assert result.success
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in evaluations if c.partition is None}
    assert checks[("int_bookings_enriched", "assert_bookings_have_fx_rates")].passed is False
    assert checks[("stg_operational__bookings", "not_null_stg_operational__bookings_booking_id")].passed is True
    per_tenant = {c.partition: c for c in evaluations if c.check_name == "tenant_build_passed"}
    assert sorted(per_tenant) == keys
    assert per_tenant[tenant.id].passed is False
    assert "assert_bookings_have_fx_rates" in per_tenant[tenant.id].metadata["reason"].value
    assert all(per_tenant[t].passed for t in keys if t != tenant.id)
    dbt_steps = [e for e in result.all_events if e.step_key == "auditoryx_dbt_models"]
    assert not [e for e in dbt_steps if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert current_version(app_env.published_dir, tenant.id) is None  # nothing good to keep yet
    assert all(current_version(app_env.published_dir, t.id) for t in generated[1:])


def _no_rate_booking(engine, tenant_id: str) -> None:
    """A completed EUR booking before the FX seed's first rate: it fails assert_bookings_have_fx_rates."""
    import datetime as dt
    import uuid

    from sqlalchemy import insert, select

    from operational.models import Artist

    with Session(engine) as session, session.begin():
        artist_id = session.scalar(select(Artist.id).where(Artist.org_id == tenant_id).limit(1))
        end = dt.datetime(2021, 6, 3, 12, tzinfo=dt.timezone.utc)
        session.execute(insert(Booking), [{
            "id": str(uuid.uuid4()), "org_id": tenant_id, "artist_id": artist_id, "title": "No rate",
            "type": "MIXING", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=1), "end_date": end,
            "duration_minutes": 60, "timezone": "UTC", "final_price": 10, "currency": "EUR",
            "payment_status": "PAID"}])


def test_a_change_run_reports_the_data_tests_per_tenant_not_per_test(app_env, tenants):
    """The change sensor starts `refresh_changed_tenants`: the same assets and the planned build,
    with the platform's own checks only (no check per dbt test, planned or evaluated). A data
    test failing for the changed tenant still keeps that tenant on its last version, and its
    partition of tenant_build_passed names the test; a good change publishes."""
    engine, generated = tenants
    defs = _definitions()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", [t.id for t in generated])
    assert defs.resolve_job_def("refresh_tenants").execute_in_process(instance=instance, tags={
        "dagster/asset_partition_range_start": generated[0].id,
        "dagster/asset_partition_range_end": generated[-1].id}).success
    versions = {t.id: current_version(app_env.published_dir, t.id) for t in generated}
    cursor = _evaluate(defs, "operational_change_sensor", instance).cursor

    bad, good = generated[0], generated[1]
    _no_rate_booking(engine, bad.id)
    with Session(engine) as session, session.begin():
        booking = session.query(Booking).filter(Booking.org_id == good.id, Booking.status == "COMPLETED",
                                                Booking.final_price.is_not(None)).first()
        booking.final_price = booking.final_price + 1
    requested = _evaluate(defs, "operational_change_sensor", instance, cursor).run_requests
    assert sorted(r.partition_key for r in requested) == sorted([bad.id, good.id])
    job = defs.resolve_job_def(defs.get_sensor_def("operational_change_sensor").job_name)
    assert job.name == "refresh_changed_tenants"
    assert defs.get_sensor_def("file_drop_sensor").job_name == "refresh_changed_tenants"

    failing = job.execute_in_process(instance=instance, partition_key=bad.id, raise_on_error=False)
    assert failing.success
    planned = {e.dagster_event.event_specific_data.check_name for e in instance.all_logs(failing.run_id)
               if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION_PLANNED"}
    assert planned == {"snapshots_complete", "snapshots_fresh", "file_drops_reconcile", "tenant_build_passed"}
    evaluations = [e.event_specific_data for e in failing.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert {c.check_name for c in evaluations} <= planned
    verdict = [c for c in evaluations if c.check_name == "tenant_build_passed"]
    assert [(c.partition, c.passed) for c in verdict] == [(bad.id, False)]
    assert "assert_bookings_have_fx_rates" in verdict[0].metadata["reason"].value
    assert current_version(app_env.published_dir, bad.id) == versions[bad.id]  # keeps its last good version
    status = {e.event_specific_data.materialization.asset_key.to_user_string():
              e.event_specific_data.materialization.metadata["status"].value
              for e in failing.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
              and "status" in e.event_specific_data.materialization.metadata}
    # the planned build of the direct refresh: what the bookings do not feed is left as it was
    assert status["fx_rates"] == "unchanged" and status["int_bookings_enriched"] == "success"

    passing = job.execute_in_process(instance=instance, partition_key=good.id)
    assert passing.success
    assert current_version(app_env.published_dir, good.id) != versions[good.id]
    assert current_version(app_env.published_dir, generated[2].id) == versions[generated[2].id]


def test_refresh_jobs_run_their_steps_in_the_runs_process():
    """Under `dagster dev` a job's executor decides where steps run; Dagster's default starts a
    process per step (Dagster, the project and dbt imported again for each of ~1 s of work)."""
    definitions = _definitions()
    for name in ("refresh_tenants", "refresh_changed_tenants", "reconcile_tenants"):
        assert definitions.resolve_job_def(name).executor_def.name == "in_process", name
