"""The Streamlit app through AppTest: login, tenant isolation, logout, friendly empty states."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tenant_data import CANARY_ARTIST, PASSWORD, World

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30)


def submit_login(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="login_email").input(email)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "Log in").click()
    return at.run()


def login(email: str, password: str = PASSWORD, query_params: dict | None = None) -> AppTest:
    at = new_app()
    if query_params:
        at.query_params.update(query_params)
    at.run()
    assert not at.exception, at.exception
    submit_login(at, email, password)
    assert not at.exception, at.exception
    return at


def _nodes(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def rendered_text(at: AppTest) -> str:
    """Every piece of content the run produced: all element protos (markdown, metrics, Plotly
    specs, Arrow bytes of dataframes…) plus decoded dataframe cells and metric fields."""
    parts: list[str] = []
    roots = list(getattr(at._tree, "children", {}).values()) or [at.main, at.sidebar]
    for root in roots:
        for node in _nodes(root):
            proto = getattr(node, "proto", None)
            if proto is not None:
                parts.append(str(proto))
                try:
                    parts.append(proto.SerializeToString().decode("utf-8", "replace"))
                except Exception:  # noqa: BLE001 - best effort, str(proto) is already there
                    pass
            kind = getattr(node, "type", "")
            if kind in ("arrow_data_frame", "dataframe") or node.__class__.__name__ == "Dataframe":
                frame = node.value
                parts.append(frame.to_csv())
                parts.extend(str(c) for c in frame.columns)
            elif node.__class__.__name__ == "Metric":
                parts.extend([node.label, str(node.value), str(node.delta)])
            elif node.__class__.__name__ == "UnknownElement" and proto is not None and hasattr(proto, "spec"):
                parts.append(json.dumps(json.loads(proto.spec)))
            else:
                value = getattr(node, "value", None)
                if isinstance(value, str):
                    parts.append(value)
    return "\n".join(parts)


def tenant_b_markers(world: World) -> list[str]:
    b = world.b
    return [CANARY_ARTIST, b.name, b.tenant_id, b.email, b.user_name, "98,765.43", "98765.43", "77777.77", "77,777.77"]


def assert_no_tenant_b(at: AppTest, world: World) -> None:
    text = rendered_text(at)
    leaked = [marker for marker in tenant_b_markers(world) if marker in text]
    assert not leaked, f"tenant B content rendered: {leaked}"


def test_anonymous_session_only_sees_login(world_env):
    at = new_app().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["AuditoryX Analytics"]
    assert at.text_input(key="login_email") and at.text_input(key="login_password")
    assert not at.metric and not at.dataframe
    text = rendered_text(at)
    assert world_env.a.name not in text and CANARY_ARTIST not in text


@pytest.mark.parametrize("kind", ["wrong password", "unknown email", "empty"])
def test_login_failure_shows_a_generic_error(world_env, kind):
    email, password = {
        "wrong password": (world_env.a.email, "not-the-password"),
        "unknown email": ("nobody@nowhere.example", PASSWORD),
        "empty": ("", ""),
    }[kind]
    at = login(email, password)
    assert [e.value for e in at.error] == ["Invalid email or password."]
    assert not at.metric and not at.dataframe
    assert "auditoryx_user" not in at.session_state
    assert world_env.a.name not in rendered_text(at)


def test_tenant_a_sees_its_own_dashboard(world_env):
    a = world_env.a
    at = login(a.email)
    assert at.title[0].value == a.name
    assert at.caption[0].value.startswith("As of 2025-03-15 · refreshed 2025-03-15 06:30 UTC · version v")
    metrics = {m.label: m for m in at.metric}
    revenue = metrics["Recognized revenue (30 days)"]
    assert revenue.value == "$12,345.67"
    assert revenue.delta == "+23.5% vs previous 30 days"
    assert metrics["Outstanding revenue"].value == "$2,222.22"
    assert metrics["Active artists (30 days)"].value == "7"
    assert metrics["Bookings started (30 days)"].value == "23"
    assert metrics["Completed bookings (March 2025 to date)"].value == "8"
    top = at.dataframe[0].value
    assert list(top.columns) == ["rank", "artist_name", "recognized_revenue", "completed_bookings"]
    assert top.iloc[0]["artist_name"] == "Lumen Vale" and int(top.iloc[0]["rank"]) == 1
    assert len(at.get("plotly_chart")) == 2
    sidebar = rendered_text(at)
    assert a.name in sidebar and a.email in sidebar


def test_tenant_b_canary_never_rendered_for_tenant_a(world_env):
    at = login(world_env.a.email)
    text = rendered_text(at)
    assert "Lumen Vale" in text and "12,345.67" in text  # the walk does see table cells and metrics
    assert_no_tenant_b(at, world_env)
    at.run()  # and not after a rerun either
    assert_no_tenant_b(at, world_env)


def test_walker_finds_the_canary_when_tenant_b_is_logged_in(world_env):
    """Positive control: the same walk reports the canary for B, so its absence for A means something."""
    at = login(world_env.b.email)
    text = rendered_text(at)
    assert CANARY_ARTIST in text
    assert "€98,765.43" in [m.value for m in at.metric]


def test_query_params_cannot_switch_tenant(world_env):
    a, b = world_env.a, world_env.b
    params = {"tenant": b.tenant_id, "tenant_id": b.tenant_id, "org_id": b.tenant_id, "tenant_slug": b.slug}
    at = login(a.email, query_params=params)
    assert at.title[0].value == a.name
    assert at.metric[0].value == "$12,345.67"
    assert_no_tenant_b(at, world_env)
    # set while logged in, then rerun: still A
    at.query_params.update(params)
    at.run()
    assert at.title[0].value == a.name
    assert_no_tenant_b(at, world_env)


def test_logout_returns_to_login_and_forgets_the_user(world_env):
    at = login(world_env.a.email)
    assert at.metric
    at.button(key="logout").click().run()
    assert not at.exception
    assert "auditoryx_user" not in at.session_state
    assert not at.metric and not at.dataframe
    assert at.text_input(key="login_email")
    assert world_env.a.name not in rendered_text(at)
    at.run()  # a rerun does not bring the dashboard back
    assert not at.metric


def test_tenant_without_snapshot_sees_friendly_message(world_env):
    at = login(world_env.unpublished.email)
    assert not at.exception
    assert at.title[0].value == world_env.unpublished.name
    assert any("No analytics have been published" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


def test_tenant_without_bookings_sees_friendly_message(world_env):
    at = login(world_env.empty.email)
    assert not at.exception
    assert any("No bookings yet" in i.value for i in at.info)
    assert at.caption[0].value.startswith("As of 2025-03-15")
    assert not at.metric and not at.dataframe
