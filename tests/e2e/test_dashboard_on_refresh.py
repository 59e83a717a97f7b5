"""The dashboard over snapshots made by the real pipeline (generate → refresh → publish).

Proves that dashboards/ and warehouse/publish agree on the published layout and meta columns,
and that tenant A never sees tenant B's canary artist.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.db import make_engine
from operational.models import User
from tests.e2e.conftest import CANARY

PASSWORD = "test-password"  # what tests/e2e/conftest.py's populate() gives generated users


def _load(name: str):
    path = Path(__file__).resolve().parents[1] / "dashboards" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"auditoryx_e2e_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


support = _load("apptest_support")


def _emails(settings, tenant_id: str) -> list[str]:
    engine = make_engine(settings.operational_database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(User.email).where(User.org_id == tenant_id, User.is_active)))
    finally:
        engine.dispose()


def test_dashboard_renders_real_snapshots_without_leaks(refreshed):
    settings, (tenant_a, tenant_b) = refreshed

    at = support.login(tenant_a.admin_email, PASSWORD)
    assert at.title[0].value == tenant_a.name
    assert at.caption[0].value.startswith(f"As of {settings.as_of.isoformat()} · refreshed ")
    labels = [m.label for m in at.metric]
    assert "Recognized revenue" in labels and "Receivables due" in labels
    money = ("Recognized revenue", "Receivables due")
    assert all(m.value.startswith("$") for m in at.metric if m.label in money)  # A is USD
    assert len(at.get("plotly_chart")) == 8
    text = support.rendered_text(at)
    assert CANARY not in text and tenant_b.name not in text
    # every other user of A sees the same tenant, never B
    for email in _emails(settings, tenant_a.id)[:3]:
        other = support.login(email, PASSWORD)
        assert other.title[0].value == tenant_a.name
        assert CANARY not in support.rendered_text(other)

    at_b = support.login(tenant_b.admin_email, PASSWORD)
    top = at_b.dataframe[-1].value
    assert top.iloc[0]["artist"] == CANARY  # positive control: the canary is visible to B
    assert at_b.metric[0].value.startswith("€")  # B is EUR
