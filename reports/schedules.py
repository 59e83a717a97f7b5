"""Scheduled reports per tenant: which are due, and running them (plain functions; Dagster's
``report_schedules`` schedule only calls :func:`run_due`).

A tenant's schedule lives in ``organizations.settings["report_schedule"]`` (set by an ORG_ADMIN on
the Organization settings page, validated by ``operational.organizations.validate_report_schedule``):
cadence weekly (weekday) or monthly (day 1–28) at an hour (UTC), sections, formats and period;
it is sent to the organization's report recipients. A slot (the latest scheduled time at or
before now) is due when it is newer than the last slot run for the tenant (recorded in
``<exports>/<tenant id>/schedule-state.json``) and at most ``CATCH_UP`` old: a new schedule does
not fire for a slot before it existed, and a long outage does not send a burst of stale reports.
One tenant's failure is reported and does not stop the others.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from operational.permissions import command_line_operator
from reports.delivery import DeliveryUnavailable, send_export
from reports.export import export_tenant, tenant_exports_dir

STATE_FILE = "schedule-state.json"
CATCH_UP = dt.timedelta(hours=24)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleRun:
    tenant_id: str
    slot: str
    status: str          # "sent", "exported" (nothing sent: reason in detail), "failed"
    detail: str
    folder: str | None = None


def latest_slot(schedule: dict[str, Any], now: dt.datetime) -> dt.datetime:
    """The latest scheduled time at or before ``now`` (UTC)."""
    now = now.astimezone(dt.timezone.utc)
    hour = int(schedule.get("hour_utc", 6))
    if schedule.get("cadence") == "monthly":
        day = int(schedule.get("day", 1))
        slot = now.replace(day=day, hour=hour, minute=0, second=0, microsecond=0)
        if slot > now:
            month = now.replace(day=1) - dt.timedelta(days=1)
            slot = slot.replace(year=month.year, month=month.month)
        return slot
    weekday = int(schedule.get("weekday", 0))
    slot = (now - dt.timedelta(days=(now.weekday() - weekday) % 7)).replace(hour=hour, minute=0, second=0,
                                                                           microsecond=0)
    return slot if slot <= now else slot - dt.timedelta(days=7)


def _state_path(exports_dir: Path, tenant_id: str) -> Path:
    return tenant_exports_dir(exports_dir, tenant_id) / STATE_FILE


def last_run_slot(exports_dir: Path, tenant_id: str) -> str | None:
    try:
        return json.loads(_state_path(exports_dir, tenant_id).read_text(encoding="utf-8")).get("last_slot")
    except (OSError, ValueError):
        return None


def _remember(exports_dir: Path, tenant_id: str, slot: str, status: str) -> None:
    path = _state_path(exports_dir, tenant_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"last_slot": slot, "status": status,
                                     "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}),
                         encoding="utf-8")
    os.replace(temporary, path)


def due_slot(schedule: dict[str, Any] | None, now: dt.datetime, last_slot: str | None) -> str | None:
    """The slot to run now (ISO text), or None."""
    if not schedule or not schedule.get("enabled"):
        return None
    slot = latest_slot(schedule, now)
    if now.astimezone(dt.timezone.utc) - slot > CATCH_UP:
        return None
    text = slot.isoformat()
    if last_slot is not None and last_slot >= text:
        return None
    return text


def tenant_schedules(engine, tenant_ids: Iterable[str] | None = None) -> dict[str, tuple[dict | None, list[str]]]:
    """Active tenants → (report schedule, report recipients), read with the owner's engine."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from operational.models import Organization

    wanted = None if tenant_ids is None else set(tenant_ids)
    found: dict[str, tuple[dict | None, list[str]]] = {}
    with Session(engine) as session:
        for org_id, settings in session.execute(select(Organization.id, Organization.settings)
                                                .where(Organization.is_active)):
            if wanted is not None and org_id not in wanted:
                continue
            settings = settings or {}
            schedule = settings.get("report_schedule")
            found[org_id] = (schedule if isinstance(schedule, dict) else None,
                             list(settings.get("report_recipients") or []))
    return found


def run_schedule(settings, engine, tenant_id: str, schedule: dict[str, Any], recipients: list[str],
                 slot: str) -> ScheduleRun:
    """Export and send one tenant's scheduled report (acting as the command-line operator)."""
    actor = command_line_operator(tenant_id)
    export = export_tenant(settings, tenant_id, actor=actor, formats=schedule.get("formats"),
                           period=schedule.get("period"), sections=schedule.get("sections"), engine=engine)
    try:
        delivery = send_export(engine, settings.resolved_exports_dir, tenant_id, export, recipients, actor=actor,
                               trigger="schedule")
    except DeliveryUnavailable as reason:
        return ScheduleRun(tenant_id, slot, "exported", str(reason), str(export.folder))
    return ScheduleRun(tenant_id, slot, "sent", f"queued for {len(delivery.recipients)} recipients",
                       str(export.folder))


def run_due(settings, *, now: dt.datetime | None = None, engine=None,
            tenant_ids: Iterable[str] | None = None) -> list[ScheduleRun]:
    """Run every due tenant schedule once; returns what happened per tenant that was due."""
    now = now or dt.datetime.now(dt.timezone.utc)
    own_engine = engine is None
    if own_engine:
        from operational.db import make_engine

        engine = make_engine(settings.operational_database_url)
    runs: list[ScheduleRun] = []
    try:
        for tenant_id, (schedule, recipients) in sorted(tenant_schedules(engine, tenant_ids).items()):
            slot = due_slot(schedule, now, last_run_slot(settings.resolved_exports_dir, tenant_id))
            if slot is None:
                continue
            try:
                run = run_schedule(settings, engine, tenant_id, schedule, recipients, slot)
            except Exception as error:  # noqa: BLE001 - one tenant never stops the others
                log.exception("tenant %s: scheduled report failed", tenant_id)
                run = ScheduleRun(tenant_id, slot, "failed", f"{type(error).__name__}: {error}")
            if run.status != "failed":
                _remember(settings.resolved_exports_dir, tenant_id, slot, run.status)
            runs.append(run)
    finally:
        if own_engine:
            engine.dispose()
    return runs
