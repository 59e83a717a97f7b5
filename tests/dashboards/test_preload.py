"""The login page preloads the browser code of the dashboard's elements (dashboards/preload.py)."""
from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from apptest_support import login, new_app
from dashboards import preload
from tenant_data import PASSWORD

STATIC_JS = Path(st.__file__).resolve().parent / "static" / "static" / "js"


def _main_bundle() -> str:
    (index,) = [p for p in STATIC_JS.glob("index.*.js") if re.fullmatch(r"index\.[A-Za-z0-9_-]+\.js", p.name)]
    return index.read_text(encoding="utf-8")


def test_every_dashboard_component_has_one_chunk_the_frontend_imports():
    files = preload.chunk_files()
    assert [name.split(".")[0] for name in files] == list(preload.DASHBOARD_COMPONENTS)
    bundle = _main_bundle()
    for name in files:  # the same relative URL as the frontend's own import: one module, evaluated once
        assert f'"./{name}"' in bundle, name


def test_unknown_component_is_left_out():
    assert preload.chunk_files(("NoSuchComponent", "PlotlyChart")) == tuple(
        name for name in preload.chunk_files() if name.startswith("PlotlyChart."))


def test_script_imports_relative_to_the_frontend_main_module():
    script = preload.preload_script(("PlotlyChart.abc.js",))
    assert script.startswith("<script>") and script.endswith("</script>")
    assert '["PlotlyChart.abc.js"]' in script
    assert "import(new URL(name, base).href)" in script


def _preload_elements(at) -> list[str]:
    return [element.proto.body for element in at.get("html") if "import(new URL" in element.proto.body]


def test_login_page_preloads_and_the_dashboard_does_not(world_env):
    at = new_app().run()
    assert not at.exception
    (body,) = _preload_elements(at)
    assert all(name in body for name in preload.chunk_files())
    logged_in = login(world_env.a.email, PASSWORD)
    assert logged_in.metric and not _preload_elements(logged_in)


def test_the_server_imports_the_pages_modules_in_the_background_once(monkeypatch, caplog):
    import subprocess
    import sys

    # a fresh interpreter: importing the server starts the warm-up; the modules arrive without a page run
    probe = ("import sys, dashboards.server as s, dashboards.preload as p; t = p.warm_python_modules(); "
             "t.join(60); assert t is p.warm_python_modules(); "
             "print(all(m in sys.modules for m in p.WARM_MODULES))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr[-2000:]
    # an import that fails is logged, the others still import
    monkeypatch.setattr(preload, "_warming", [])
    thread = preload.warm_python_modules(("dashboards.no_such_module", "dashboards.formatting"))
    thread.join(60)
    assert "importing dashboards.no_such_module failed" in caplog.text
