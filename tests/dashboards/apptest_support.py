"""AppTest helpers shared by tests/dashboards and tests/e2e (loaded there by path)."""
from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30)


def submit_login(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="login_email").input(email)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "Log in").click()
    return at.run()


def login(email: str, password: str, query_params: dict | None = None) -> AppTest:
    """A fresh session that logs in through the form (optionally with URL query parameters)."""
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
            kind = node.__class__.__name__
            if kind == "Dataframe":
                frame = node.value
                parts.append(frame.to_csv())
                parts.extend(str(c) for c in frame.columns)
            elif kind == "Metric":
                parts.extend([node.label, str(node.value), str(node.delta)])
            elif kind == "UnknownElement" and proto is not None and hasattr(proto, "spec"):
                parts.append(json.dumps(json.loads(proto.spec)))  # Plotly figure, unescaped
            else:
                value = getattr(node, "value", None)
                if isinstance(value, str):
                    parts.append(value)
    return "\n".join(parts)
