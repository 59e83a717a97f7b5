"""Main journey in a real browser: `streamlit run dashboards/server.py` driven by Chromium/Playwright.

Log in as tenant A → dashboard with A's title and revenue, nothing of tenant B → log out.
Without Playwright or Chromium the test is skipped, except under CI=true where it fails.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboards" / "server.py"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT_S = 60
UI_TIMEOUT_MS = 30_000

pytestmark = pytest.mark.browser

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _load_tenant_data():
    """tests/dashboards/tenant_data.py, loaded by path (tests/ folders are not packages)."""
    path = ROOT / "tests" / "dashboards" / "tenant_data.py"
    spec = importlib.util.spec_from_file_location("auditoryx_e2e_tenant_data", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tenant_data = _load_tenant_data()


def _load_label_data():
    """tests/dashboards/label_data.py (expected label-dashboard values from a published snapshot)."""
    path = ROOT / "tests" / "dashboards" / "label_data.py"
    spec = importlib.util.spec_from_file_location("auditoryx_e2e_label_data", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


label_data = _load_label_data()
LAST_30 = (tenant_data.AS_OF - dt.timedelta(days=29), tenant_data.AS_OF)  # the dashboard's default period


def expected_period(world, tenant, **filters) -> dict:
    """The label dashboard's default-period totals of ``tenant``, from its published fct_bookings_daily."""
    daily = label_data.published_mart(world.published_dir, tenant.tenant_id, "fct_bookings_daily")
    return label_data.expected_period(daily, *LAST_30, **filters)


def metric_value(page, label: str):
    """The value element of the KPI card labelled exactly ``label``."""
    return page.locator("[data-testid=stMetric]").filter(
        has=page.get_by_text(label, exact=True)).locator("[data-testid=stMetricValue]")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _skip_or_fail(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: a missing browser dependency is a failure, not a skip)")
    pytest.skip(reason)


def _chromium_executable() -> str | None:
    candidates = [os.environ.get("AUDITORYX_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(base_url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit not healthy after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text(errors='replace')[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server we started (its own process group), politely then firmly."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def playwright_api():
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError as exc:
        _skip_or_fail(f"playwright is not installed: {exc}")
    executable = _chromium_executable()
    if executable is None:
        _skip_or_fail("Chromium not found (looked at $AUDITORYX_CHROMIUM, /usr/bin/chromium, PATH)")
    return sync_playwright, expect, executable


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tenant_data.build_world(tmp_path_factory.mktemp("e2e-world"))


@contextlib.contextmanager
def streamlit_server(run_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """`streamlit run dashboards/server.py` (as `auditoryx serve` runs it) on a free port with ``env``,
    HOME and the Python path set under ``run_dir``; yields its base URL and stops it afterwards."""
    home = run_dir / "home"
    home.mkdir()
    port = _free_port()
    env = {
        **env,
        "HOME": str(home),  # Streamlit writes ~/.streamlit: keep it out of the real $HOME
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log_path = run_dir / "streamlit.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", str(APP),
                "--server.headless", "true",
                "--server.port", str(port),
                "--server.address", "127.0.0.1",
                "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false",
                "--global.developmentMode", "false",
                "--client.toolbarMode", "viewer",  # as `auditoryx serve` runs it
            ],
            cwd=run_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, proc, log_path)
        yield base_url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def server(world, tmp_path_factory, playwright_api):
    env = {**os.environ, **world.env()}
    env.pop("AUDITORYX_AS_OF", None)
    with streamlit_server(tmp_path_factory.mktemp("e2e-streamlit"), env) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser(playwright_api, tmp_path_factory):
    """One headless Chromium for a module (each importing module gets its own)."""
    sync_playwright, _expect, executable = playwright_api
    home = tmp_path_factory.mktemp("e2e-browser-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))  # the Playwright driver and Chromium write here
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
            try:
                yield browser
            finally:
                browser.close()


@pytest.fixture
def context(browser):
    """A fresh browser context (cookies, storage) at 1440 x 900 for one test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(playwright_api, tmp_path, monkeypatch):
    sync_playwright, _expect, executable = playwright_api
    monkeypatch.setenv("HOME", str(tmp_path))  # the Playwright driver and Chromium write here
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            yield context.new_page()
        finally:
            browser.close()


def _page_text(page) -> str:
    return page.inner_text("body") + "\n" + page.content()


def test_login_dashboard_isolation_logout(server, world, page, playwright_api):
    from dashboards.formatting import format_money, format_money_compact

    expect = playwright_api[1]
    a, b = world.a, world.b
    revenue = expected_period(world, a)["recognized_revenue"]
    b_revenue = expected_period(world, b)["recognized_revenue"]
    canary_revenue = expected_period(world, b, artists=("art-b1",))["recognized_revenue"]
    assert revenue > 0 and canary_revenue > 0
    # a tenant in the URL must not matter: the tenant comes from the login only
    page.goto(f"{server}/?tenant={b.tenant_id}&tenant_id={b.tenant_id}")

    expect(page.get_by_role("heading", name="AuditoryX Analytics")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_label("Email", exact=True).fill(a.email)
    page.get_by_label("Password", exact=True).fill(tenant_data.PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name=a.name)).to_be_visible(timeout=UI_TIMEOUT_MS)
    # A's revenue of the last 30 days from its snapshot, in compact form on the card
    expect(metric_value(page, "Recognized revenue")).to_have_text(format_money_compact(revenue, "USD"),
                                                                   timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("Top performers", exact=True)).to_be_visible()
    assert page.title() == "AuditoryX Analytics"

    # the table is a canvas; its accessible copy lands in the DOM once drawn
    expect(page.locator("[data-testid=stDataFrame]").last).to_contain_text("Lumen Vale", timeout=UI_TIMEOUT_MS)
    text = _page_text(page)
    assert "Lumen Vale" in text  # positive control: table content is part of what we search
    markers = (tenant_data.CANARY_ARTIST, b.name, b.email, "98,765.43", "77,777.77",
               format_money(canary_revenue, "EUR"), format_money(b_revenue, "EUR"))
    leaked = [m for m in markers if m in text]
    assert not leaked, f"tenant B content in the page: {leaked}"

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Email", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("[data-testid=stMetric]")).to_have_count(0)
    assert a.name not in page.inner_text("body")
