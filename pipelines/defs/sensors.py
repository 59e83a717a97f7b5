"""Sensors: tenants kept in sync with `organizations`; changed tenants refreshed alone."""
import json

import dagster as dg

from auditoryx.settings import get_settings
from operational.db import make_engine
from operational.tenants import active_tenants, change_bound, tenants_changed_since
from pipelines.defs.jobs import refresh_changed_tenants, refresh_tenants
from pipelines.defs.partitions import tenant_partitions
from pipelines.sensor_logic import change_cursor, partition_changes, pending_file_drops, tenants_to_refresh
from warehouse.publish import retire_tenant


def _engine():
    return make_engine(get_settings().operational_database_url)


@dg.sensor(job=refresh_tenants, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a partition (and a first refresh) for each new tenant; retires deactivated ones.")
def tenant_sync_sensor(context: dg.SensorEvaluationContext):
    engine = _engine()
    try:
        active = active_tenants(engine)
    finally:
        engine.dispose()
    known = context.instance.get_dynamic_partitions(tenant_partitions.name)
    added, removed = partition_changes(known, active)
    for tenant_id in removed:
        retire_tenant(get_settings().published_dir, tenant_id)
        context.log.info(f"retired tenant {tenant_id}")
    requests = []
    if added:
        requests.append(tenant_partitions.build_add_request(added))
    if removed:
        requests.append(tenant_partitions.build_delete_request(removed))
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=t, run_key=f"first-refresh-{t}") for t in added],
        dynamic_partitions_requests=requests,
    )


@dg.sensor(job=refresh_changed_tenants, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Requests a refresh of exactly the tenants whose operational data changed.")
def operational_change_sensor(context: dg.SensorEvaluationContext):
    since = change_cursor(context.cursor)
    engine = _engine()
    try:
        bound = change_bound(engine)  # first: a write committing meanwhile is numbered at or above it
        changed = tenants_changed_since(engine, since) if since is not None else set()
    finally:
        engine.dispose()
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=t, run_key=f"change-{t}-{bound}")
                      for t in tenants_to_refresh(changed, known)],
        cursor=json.dumps({"bound": bound}),
    )


@dg.sensor(job=refresh_changed_tenants, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Requests a refresh of each tenant with new files in its landing folder.")
def file_drop_sensor(context: dg.SensorEvaluationContext):
    settings = get_settings()
    engine = _engine()
    try:
        tenant_ids = sorted(active_tenants(engine))  # landing folders are named by tenant id
    finally:
        engine.dispose()
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    pending = pending_file_drops(settings.resolved_landing_dir, tenant_ids)
    return dg.SensorResult(run_requests=[
        dg.RunRequest(partition_key=tenant_id, run_key=f"files-{tenant_id}-{fingerprint}")
        for tenant_id, fingerprint in sorted(pending.items()) if tenant_id in known
    ])
