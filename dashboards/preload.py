"""Load the browser code of the dashboard's elements while the login form is shown.

Streamlit's frontend loads the code of most elements only when a page first shows one (Vite
chunks such as ``PlotlyChart.<hash>.js``, 4.7 MB). Measured in Chromium on the label dashboard,
fetching and evaluating them after the login click took ~1.2 s of the ~3.7 s until the dashboard
was drawn. The login page imports them instead (``import()`` of the same URLs the frontend
uses, so the frontend later finds them already evaluated), while the person types.

Only file names of the installed Streamlit's own static folder are used; if a later Streamlit
names its chunks differently nothing is preloaded and nothing breaks
(tests/dashboards/test_preload.py notices).
"""
from __future__ import annotations

import importlib
import json
import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

import streamlit as st

log = logging.getLogger(__name__)

# What the pages import on their first run in a process (measured cold: the router ~1.0 s, then the
# label dashboard's modules, Plotly's among them, ~0.45 s more after the login click).
WARM_MODULES = ("dashboards.router", "dashboards.label_page", "dashboards.quality_queries",
                "dashboards.roster_queries", "dashboards.artist_charts", "pandas")
_warming: list[threading.Thread] = []
_warming_lock = threading.Lock()

# The elements the label dashboard (the page most users land on) shows, by Streamlit chunk name.
DASHBOARD_COMPONENTS = ("Metric", "Selectbox", "Multiselect", "PlotlyChart", "DataFrame")


def _static_js_dir() -> Path:
    return Path(st.__file__).resolve().parent / "static" / "static" / "js"


@lru_cache(maxsize=8)
def chunk_files(components: tuple[str, ...] = DASHBOARD_COMPONENTS) -> tuple[str, ...]:
    """The file name of each component's chunk in the installed Streamlit (``Name.<hash>.js``);
    components without exactly one such file are left out."""
    folder = _static_js_dir()
    names = []
    for component in components:
        pattern = re.compile(rf"{re.escape(component)}\.[A-Za-z0-9_-]+\.js")
        found = sorted(p.name for p in folder.glob(f"{component}.*.js") if pattern.fullmatch(p.name))
        if len(found) == 1:
            names.append(found[0])
    return tuple(names)


def preload_script(files: tuple[str, ...]) -> str:
    """A script importing ``files`` relative to the frontend's own main module (so under any base
    URL path they resolve to the URLs the frontend imports); failures are ignored."""
    return (
        "<script>(() => {"
        "const main = document.querySelector('script[type=module][src*=\"/static/js/index.\"]');"
        "const base = main ? main.src : new URL('static/js/', document.baseURI).href;"
        f"for (const name of {json.dumps(list(files))}) import(new URL(name, base).href).catch(() => {{}});"
        "document.currentScript && document.currentScript.remove();"
        "})();</script>"
    )


def preload_dashboard_components() -> None:
    """Put the preloading script on the page (no visible output)."""
    files = chunk_files()
    if files:
        st.html(preload_script(files), unsafe_allow_javascript=True)


def warm_python_modules(modules: tuple[str, ...] = WARM_MODULES) -> threading.Thread:
    """Import ``modules`` in a background thread, once per process (the server calls it when it
    starts: the first person's login page and dashboard then find them imported). Returns the
    thread (tests join it); an import that fails is logged and left to the page that needs it."""
    with _warming_lock:
        if not _warming:
            thread = threading.Thread(target=_import_all, args=(modules,), name="auditoryx-warm-imports", daemon=True)
            thread.start()
            _warming.append(thread)
        return _warming[0]


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the page importing it reports the error
            log.warning("warming up: importing %s failed", name, exc_info=True)
