"""The Reports page (AppTest): allowed roles generate, download and send; others never reach it."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from operational.db import make_engine
from operational.organizations import update_organization_settings
from operational.permissions import command_line_operator
from tests.reports.conftest import CANARY_ARTIST, tenant_data

_SPEC = importlib.util.spec_from_file_location(
    "reports_apptest_support", Path(__file__).resolve().parents[1] / "dashboards" / "apptest_support.py")
support = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = support
_SPEC.loader.exec_module(support)

PAGE = "views/10_reports.py"


def _login(email: str):
    return support.login(email, tenant_data.PASSWORD)


@pytest.fixture
def page_env(world_env):
    engine = make_engine(world_env.operational_url)
    try:
        update_organization_settings(engine, command_line_operator(world_env.a.tenant_id),
                                     report_recipients=["boss@aurora-reports.example"])
    finally:
        engine.dispose()
    return world_env


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_admin_generates_downloads_and_sends(page_env):
    world = page_env
    at = _login(world.a.email)
    at.switch_page(PAGE).run()
    assert not at.exception and at.title[0].value == "Reports"
    assert any("No exports yet" in i.value for i in at.info)
    at.multiselect(key="report_formats").set_value(["xlsx", "csv"])
    _button(at, "Generate now").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Report generated" in s.value for s in at.success)
    folders = list((world.exports_dir / world.a.tenant_id).glob("*/*/manifest.json"))
    assert len(folders) == 1
    downloads = [b.proto.label for b in at.get("download_button")]
    assert "Aurora Reports report 2024-04_2025-03.xlsx (36 rows)" in downloads
    assert any(label.startswith("Top performers.csv") for label in downloads)
    _button(at, "Send now").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Queued for 1 recipients" in s.value for s in at.success)
    text = support.rendered_text(at)
    assert "boss@aurora-reports.example" in text and CANARY_ARTIST not in text
    deliveries = at.dataframe[-1].value  # the outbox: status and attempts of the queued e-mail
    assert deliveries["Subject"].str.contains("Aurora Reports report").any()
    assert set(deliveries.columns) >= {"Status", "Attempts", "To", "Last error"}
    assert world.b.tenant_id not in text


def test_label_manager_generates_but_cannot_send(page_env):
    at = _login(tenant_data.role_email(page_env.a, "LABEL_MANAGER"))
    at.switch_page(PAGE).run()
    assert not at.exception
    _button(at, "Generate now").click().run()
    assert not at.exception and not at.error
    assert at.get("download_button") and not [b for b in at.button if b.label == "Send now"]


@pytest.mark.parametrize("role", ["VIEWER", "CREATOR", "CLIENT", "ARTIST_MANAGER"])
def test_roles_without_reports_never_reach_the_page(page_env, role):
    at = _login(tenant_data.role_email(page_env.a, role))
    with pytest.raises(Exception):  # not in this user's navigation at all
        at.switch_page(PAGE).run()
    assert not page_env.exports_dir.exists()
