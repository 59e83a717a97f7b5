"""Scheduled reports: what is due, run_due over two tenants (outbox or not), the settings' schedule
(validation and the Organization settings page), and the Dagster job that runs them."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from operational.db import make_engine
from operational.organizations import (REPORT_FORMATS, REPORT_SECTIONS, InvalidSetting, get_organization_settings,
                                       update_organization_settings, validate_report_schedule)
from operational.permissions import Actor, command_line_operator
from reports import delivery
from reports.export import FORMATS
from reports.schedules import due_slot, latest_slot, run_due
from reports.sections import SECTION_KEYS
from tests.reports.conftest import CANARY_ARTIST

UTC = dt.timezone.utc
MONDAY_0610 = dt.datetime(2025, 3, 17, 6, 10, tzinfo=UTC)


def test_the_settings_vocabulary_is_the_reports_one():
    assert REPORT_SECTIONS == SECTION_KEYS and REPORT_FORMATS == FORMATS


def test_schedule_validation():
    assert validate_report_schedule({"cadence": "monthly", "day": "3", "formats": "pdf,xlsx"}) == {
        "enabled": True, "cadence": "monthly", "hour_utc": 6, "sections": list(SECTION_KEYS),
        "formats": ["xlsx", "pdf"], "period": "last-12-months", "day": 3}
    for bad in ({"cadence": "daily"}, {"hour_utc": 24}, {"day": 31, "cadence": "monthly"}, {"formats": []},
                {"sections": ["gossip"]}, {"period": "forever"}, {"recipients": ["x@y.z"]}, "weekly"):
        with pytest.raises(InvalidSetting):
            validate_report_schedule(bad)


@pytest.mark.parametrize(("schedule", "now", "slot"), [
    ({"cadence": "weekly", "weekday": 0, "hour_utc": 6}, MONDAY_0610, "2025-03-17T06:00:00+00:00"),
    ({"cadence": "weekly", "weekday": 0, "hour_utc": 7}, MONDAY_0610, "2025-03-10T07:00:00+00:00"),
    ({"cadence": "weekly", "weekday": 4, "hour_utc": 6}, MONDAY_0610, "2025-03-14T06:00:00+00:00"),
    ({"cadence": "monthly", "day": 17, "hour_utc": 6}, MONDAY_0610, "2025-03-17T06:00:00+00:00"),
    ({"cadence": "monthly", "day": 20, "hour_utc": 6}, MONDAY_0610, "2025-02-20T06:00:00+00:00"),
    ({"cadence": "monthly", "day": 28, "hour_utc": 6}, dt.datetime(2025, 1, 5, tzinfo=UTC), "2024-12-28T06:00:00+00:00"),
])
def test_latest_slot(schedule, now, slot):
    assert latest_slot(schedule, now).isoformat() == slot


def test_due_slot_runs_each_slot_once_and_never_stale_ones():
    weekly = {"enabled": True, "cadence": "weekly", "weekday": 0, "hour_utc": 6}
    assert due_slot(weekly, MONDAY_0610, None) == "2025-03-17T06:00:00+00:00"
    assert due_slot(weekly, MONDAY_0610, "2025-03-17T06:00:00+00:00") is None  # already run
    assert due_slot(weekly, MONDAY_0610 + dt.timedelta(days=2), None) is None  # older than the catch-up window
    assert due_slot(dict(weekly, enabled=False), MONDAY_0610, None) is None
    assert due_slot(None, MONDAY_0610, None) is None


def _set_schedule(world, tenant, **schedule):
    engine = make_engine(world.operational_url)
    try:
        update_organization_settings(engine, command_line_operator(tenant.tenant_id),
                                     report_recipients=["boss@aurora-reports.example", "cfo@aurora-reports.example"],
                                     report_schedule={"cadence": "weekly", "weekday": 0, "hour_utc": 6, **schedule})
    finally:
        engine.dispose()


def _outbox_messages(world, tenant_id):
    from operational.email_delivery import email_log

    engine = make_engine(world.operational_url)
    try:
        return email_log(engine, command_line_operator(tenant_id), limit=500)
    finally:
        engine.dispose()


def test_run_due_exports_and_queues_the_email_once(world_env):
    from auditoryx.settings import get_settings

    world = world_env
    _set_schedule(world, world.a, formats=["xlsx", "csv"], sections=["kpis", "top_performers"])
    before = len(_outbox_messages(world, world.a.tenant_id))
    settings = get_settings()
    runs = run_due(settings, now=MONDAY_0610, tenant_ids=[world.a.tenant_id, world.b.tenant_id])
    assert [(r.tenant_id, r.status) for r in runs] == [(world.a.tenant_id, "sent")]  # B has no schedule
    messages = _outbox_messages(world, world.a.tenant_id)
    assert len(messages) == before + 1
    payload = messages[0].payload
    assert payload["to"] == ["boss@aurora-reports.example", "cfo@aurora-reports.example"]
    assert "Aurora Reports report" in payload["subject"]
    attached = [a["path"] for a in payload["attachments"]]
    assert sorted(a.rsplit("/", 1)[1] for a in attached) == sorted(
        ["Aurora Reports report 2024-04_2025-03.xlsx", "Key figures.csv", "Top performers.csv"])
    assert all(path.startswith(str(world.exports_dir / world.a.tenant_id)) for path in attached)
    assert not any(CANARY_ARTIST in open(p, encoding="utf-8-sig").read() for p in attached if p.endswith(".csv"))
    assert run_due(settings, now=MONDAY_0610 + dt.timedelta(minutes=15), tenant_ids=[world.a.tenant_id]) == []
    state = json.loads((world.exports_dir / world.a.tenant_id / "schedule-state.json").read_text())
    assert state["last_slot"] == "2025-03-17T06:00:00+00:00"
    log = delivery.list_deliveries(world.exports_dir, world.a.tenant_id, actor=command_line_operator(world.a.tenant_id))
    assert log[0]["status"] == "queued" and log[0]["trigger"] == "schedule" and log[0]["message_id"]


def test_without_the_outbox_the_export_is_kept_and_not_sent(world_env, monkeypatch):
    from auditoryx.settings import get_settings

    world = world_env
    _set_schedule(world, world.a, formats=["csv"], sections=["kpis"])
    monkeypatch.setattr(delivery, "_outbox", lambda: None)
    runs = run_due(get_settings(), now=MONDAY_0610, tenant_ids=[world.a.tenant_id])
    assert [(r.status, r.folder is not None) for r in runs] == [("exported", True)]
    assert "not available" in runs[0].detail
    log = delivery.list_deliveries(world.exports_dir, world.a.tenant_id, actor=command_line_operator(world.a.tenant_id))
    assert log[0]["status"] == "not sent"


def test_send_needs_reports_update_in_that_tenant(world_env):
    from reports.export import export_report

    world = world_env
    export = export_report(world.published_dir, world.exports_dir, world.a.tenant_id,
                           actor=command_line_operator(world.a.tenant_id), formats="csv", sections="kpis")
    engine = make_engine(world.operational_url)
    try:
        for actor in (Actor.of(user_id="u", tenant_id=world.a.tenant_id, role="LABEL_MANAGER"),
                      command_line_operator(world.b.tenant_id)):
            with pytest.raises(Exception, match="not allowed"):
                delivery.send_export(engine, world.exports_dir, world.a.tenant_id, export, ["x@y.example"], actor=actor)
    finally:
        engine.dispose()


def test_a_failing_tenant_does_not_stop_the_others(world_env, monkeypatch):
    from auditoryx.settings import get_settings
    from reports import schedules

    world = world_env
    _set_schedule(world, world.a, formats=["csv"], sections=["kpis"])
    _set_schedule(world, world.b, formats=["csv"], sections=["kpis"])
    real = schedules.export_tenant

    def flaky(settings, tenant_id, **kwargs):
        if tenant_id == world.a.tenant_id:
            raise OSError("No space left on device")
        return real(settings, tenant_id, **kwargs)

    monkeypatch.setattr(schedules, "export_tenant", flaky)
    runs = {r.tenant_id: r for r in run_due(get_settings(), now=MONDAY_0610,
                                            tenant_ids=[world.a.tenant_id, world.b.tenant_id])}
    assert runs[world.a.tenant_id].status == "failed" and "No space left" in runs[world.a.tenant_id].detail
    assert runs[world.b.tenant_id].status == "sent"
    assert not (world.exports_dir / world.a.tenant_id / "schedule-state.json").exists()  # retried next time
    _set_schedule(world, world.b, enabled=False)


def test_organization_settings_page_sets_the_schedule(world_env):
    from tests.reports.test_reports_page import _login

    world = world_env
    at = _login(world.a.email)
    at.switch_page("views/03_organization.py").run()
    assert not at.exception
    at.checkbox(key="report_schedule_enabled").check()
    at.selectbox(key="report_schedule_cadence").select("monthly")
    at.number_input(key="report_schedule_day").set_value(5)
    at.multiselect(key="report_schedule_formats").set_value(["pdf", "xlsx"])
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    engine = make_engine(world.operational_url)
    try:
        schedule = get_organization_settings(engine, command_line_operator(world.a.tenant_id)).report_schedule
    finally:
        engine.dispose()
    assert schedule["enabled"] and schedule["cadence"] == "monthly" and schedule["day"] == 5
    assert schedule["formats"] == ["xlsx", "pdf"] and "weekday" not in schedule
    _set_schedule(world, world.a, enabled=False)


def test_dagster_job_runs_the_due_schedules(world_env):
    import dagster as dg

    from pipelines.defs.report_schedules import report_schedules, run_report_schedules

    world = world_env
    now = dt.datetime.now(UTC)
    _set_schedule(world, world.a, weekday=now.weekday(), hour_utc=now.hour, formats=["csv"], sections=["kpis"])
    try:
        from pipelines.defs.resources import AuditoryxSettings

        result = run_report_schedules.execute_in_process(resources={"auditoryx": AuditoryxSettings()})
        assert result.success
        assert result.output_for_node("run_due_report_schedules") == 1
        assert list((world.exports_dir / world.a.tenant_id).glob("*/*/manifest.json"))
        again = run_report_schedules.execute_in_process(resources={"auditoryx": AuditoryxSettings()})
        assert again.output_for_node("run_due_report_schedules") == 0  # that slot was run
        context = dg.build_schedule_context(scheduled_execution_time=now)
        assert isinstance(report_schedules(context), dg.RunRequest)
    finally:
        _set_schedule(world, world.a, enabled=False)


def test_an_export_announces_export_ready_to_webhooks(world_env, monkeypatch):
    from auditoryx.settings import get_settings
    from operational import webhooks
    from reports.export import export_tenant

    calls = []
    monkeypatch.setattr(webhooks, "emit", lambda session, tenant, event, data: calls.append((tenant, event, data)))
    world = world_env
    result = export_tenant(get_settings(), world.a.tenant_id, actor=command_line_operator(world.a.tenant_id),
                           formats="csv", sections="kpis")
    assert [(t, e) for t, e, _ in calls] == [(world.a.tenant_id, "export.ready")]
    data = calls[0][2]
    assert data["export"] == f"{result.folder.parent.name}/{result.folder.name}"
    assert data["files"] == [{"file": "Key figures.csv", "format": "csv", "rows": 1,
                              "sha256": result.manifest["files"][0]["sha256"]}]
