"""The executive app in a real browser (Chromium/Playwright against `streamlit run dashboards/server.py`)
over snapshots made by the real pipeline: the generator's USD, EUR and JPY tenants (northwind-records,
studio-aurora, kanto-talent at 0.3 of their size, tests/e2e/conftest.py) and tenant B's canary artist
with its large booking, refreshed once.

- the journey as tenant A (USD): log in → KPI cards with the values of A's kpi_summary → top
  performers → a click on the first bar opens that artist in the roster → Projects → a project →
  Data and quality → log out (the login form again, nothing of A left); no page shows B's canary;
  screenshots of every page at 1440 px and at 390 px (under the test's tmp_path, copied to
  $AUDITORYX_SCREENSHOT_DIR when it is set);
- every KPI card's text is its full or compact value, not cut with an ellipsis, for the USD, EUR and
  JPY tenants at 1024, 1440 and 1920 px (the full amount in the card's help); nor is any text in the
  metric cards of the roster's artist view, Projects and Data and quality cut at those widths;
- the journey again while `auditoryx refresh` publishes a new version of A in the middle of it (a
  new booking of A is its change): no error, the values stay shown, and the label dashboard then
  shows the new version's values without a reload.

Timings are printed (pytest -s), never asserted: benchmarks/browser_pages.py measures them.
Without Playwright or Chromium the tests are skipped, except under CI=true where they fail.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from auditoryx.pipeline import refresh
from dashboards.formatting import (
    format_count,
    format_date,
    format_money,
    format_pct,
    money_card,
    ratio,
    tenant_locale,
)
from operational.db import make_engine
from operational.models import Artist, Booking
from tests.conftest import AS_OF
from tests.e2e.conftest import CANARY, only_these_settings, populate, world_env
from tests.e2e.test_browser import (  # noqa: F401 - fixtures: this module gets its own instances
    browser,
    context,
    CHROMIUM_ARGS,
    ROOT,
    UI_TIMEOUT_MS,
    metric_value,
    playwright_api,
    streamlit_server,
)

pytestmark = pytest.mark.browser

PASSWORD = "test-password"  # what populate() gives generated users
WIDE, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
KPI_WIDTHS = (1024, 1440, 1920)
REFRESH_TIMEOUT_S = 300
CANARY_AMOUNT = decimal.Decimal("987654.32")  # add_canary's booking, in EUR
NEW_BOOKING = decimal.Decimal("4321.00")  # what the mid-session refresh brings to tenant A (USD)

# Any text inside a KPI card wider than its box (cut by CSS, with or without an ellipsis).
CUT_IN_CARDS = """() => [...document.querySelectorAll('[data-testid=stMetric], [data-testid=stMetric] *')]
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.getAttribute('data-testid') || e.tagName}: ${e.innerText}`)"""
CARDS = """() => [...document.querySelectorAll('[data-testid=stMetric]')].map(m => [
  m.querySelector('[data-testid=stMetricLabel]').innerText.trim(),
  m.querySelector('[data-testid=stMetricValue]').innerText.trim()])"""
TOP_CHART = ".st-key-top_performers_chart"


# ------------------------------------------------------------------------------------ the world


@pytest.fixture(scope="module")
def exec_world(tmp_path_factory, playwright_api):
    """Tenants A (USD), B (EUR, with the canary) and C (JPY) generated and refreshed once on SQLite
    (after playwright_api: without a browser the tests stop before the refresh, not after it)."""
    root = tmp_path_factory.mktemp("e2e-executive-world")
    env = world_env(root, AS_OF, PASSWORD)
    with only_these_settings(env) as settings:
        tenants = populate(settings.operational_database_url, AS_OF, tenants=3)
        started = time.monotonic()
        with open(root / "first-refresh.log", "w") as log, contextlib.redirect_stdout(log):
            refresh(settings)  # dbt's progress lines go to the log, not to pytest -s
        print(f"\n[executive world] first refresh of 3 tenants: {time.monotonic() - started:.1f} s")
    a, b, c = tenants
    return SimpleNamespace(root=root, env=env, settings=settings, a=a, b=b, c=c,
                           by_currency={"USD": a, "EUR": b, "JPY": c})


@pytest.fixture(scope="module")
def exec_server(exec_world, tmp_path_factory, playwright_api):
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUDITORYX_")}
    env.update(exec_world.env)
    with streamlit_server(tmp_path_factory.mktemp("e2e-executive-streamlit"), env) as base_url:
        yield base_url


@pytest.fixture
def expect(playwright_api):
    return playwright_api[1]


@pytest.fixture
def shots(tmp_path):
    """Screenshots of the test, copied to $AUDITORYX_SCREENSHOT_DIR when it is set (even on failure)."""
    taken: list[Path] = []
    yield SimpleNamespace(folder=tmp_path, taken=taken)
    target = os.environ.get("AUDITORYX_SCREENSHOT_DIR")
    if target and taken:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in taken:
            if shot.exists():
                shutil.copy2(shot, Path(target) / shot.name)


# ---------------------------------------------------------------------- values from the snapshot


def _mart(world, tenant_id: str, name: str) -> pl.DataFrame:
    folder = world.settings.published_dir / tenant_id
    version = (folder / "CURRENT").read_text(encoding="utf-8").strip()
    return pl.read_parquet(folder / version / f"{name}.parquet")


def _current_version(world, tenant_id: str) -> str:
    return (world.settings.published_dir / tenant_id / "CURRENT").read_text(encoding="utf-8").strip()


def _locale(world, tenant_id: str) -> str:
    engine = make_engine(world.settings.operational_database_url)
    try:
        with engine.connect() as conn:
            raw = conn.execute(text("SELECT settings FROM organizations WHERE id = :id"), {"id": tenant_id}).scalar()
    finally:
        engine.dispose()
    settings = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return tenant_locale(settings.get("locale"))


def expected_cards(world, tenant_id: str) -> dict[str, tuple[str, ...]]:
    """Each KPI card's accepted texts (compact and full for money) for the default period, the last
    30 days: the tenant's kpi_summary (the mart dbt reconciles with fct_bookings_daily) and, for the
    cancellation rate, fct_bookings_daily."""
    kpi = _mart(world, tenant_id, "kpi_summary").row(0, named=True)
    currency, locale = kpi["base_currency"], _locale(world, tenant_id)
    daily = _mart(world, tenant_id, "fct_bookings_daily").filter(
        pl.col("day").is_between(AS_OF - dt.timedelta(days=29), AS_OF))
    started, cancelled = daily["started_bookings"].sum(), daily["cancelled_bookings"].sum()
    assert started == kpi["bookings_30d"]  # the two marts agree on the window
    return {
        "Recognized revenue": money_card(kpi["recognized_revenue_30d"], currency, locale),
        "Bookings": (format_count(kpi["bookings_30d"]),),
        "Cancellation rate": (format_pct(ratio(cancelled, started), 1),),
        "Active artists": (format_count(kpi["active_artists_30d"]),),
        "Receivables due": money_card(kpi["outstanding_revenue"], currency, locale),
        "Active projects": (format_count(kpi["active_projects"]),),
        "Overdue milestones": (format_count(kpi["overdue_milestones"]),),
    }


def canary_markers(world) -> list[str]:
    """What of tenant B must never reach A's browser (names, ids, the canary booking's amount)."""
    b = world.b
    return [CANARY, "canary-artist", "Canary session", b.name, b.id, b.admin_email, b.slug,
            format_money(CANARY_AMOUNT, "EUR"), "987,654", "987.654", "987654"]


# ----------------------------------------------------------------------------------- browser steps


def _wait_idle(page) -> None:
    """The script run finished (Streamlit's running indicator is gone)."""
    page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden", timeout=UI_TIMEOUT_MS)


def _no_error(page, where: str) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, f"{where}: {page.inner_text('body')[:2000]}"
    body = page.inner_text("body")
    assert "Traceback" not in body and "could not be loaded" not in body, f"{where}: {body[:2000]}"


def _no_canary(page, world, where: str) -> None:
    """B's markers in neither the visible text nor the DOM (collapsed sections, accessible table copies)."""
    seen = page.inner_text("body") + "\n" + page.content()
    leaked = [marker for marker in canary_markers(world) if marker in seen]
    assert not leaked, f"{where}: tenant B content in A's page: {leaked}"


def _shoot(page, shots, name: str) -> None:
    """The viewport as a person sees it, and the whole page (Streamlit scrolls inside the page, so
    the window is made as tall as the content for the second one)."""
    _wait_idle(page)
    page.wait_for_timeout(500)  # charts and fonts settle
    viewport = dict(page.viewport_size)
    width = viewport["width"]
    first = shots.folder / f"{width}-{name}.png"
    page.screenshot(path=str(first))
    shots.taken.append(first)
    height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=stMain], body')]"
                           ".map(e => e.scrollHeight))")
    if height > viewport["height"]:
        page.set_viewport_size({"width": width, "height": min(height, 9000)})
        page.wait_for_timeout(500)
        full = shots.folder / f"{width}-{name}-full.png"
        page.screenshot(path=str(full))
        shots.taken.append(full)
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)


def _log_in(page, expect, base_url: str, email: str, heading: str) -> float:
    """Log in from the login form; returns the seconds from the click to the first KPI card shown."""
    page.goto(base_url)
    email_field = page.get_by_label("Email", exact=True)
    expect(email_field).to_be_visible(timeout=UI_TIMEOUT_MS)
    email_field.fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    clicked = time.monotonic()
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("[data-testid=stMetricValue]").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    return time.monotonic() - clicked


def _wait_for_session_cookie(page) -> None:
    """The login posts the token to /auth/session after the page rendered: wait for the cookie."""
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while not any(c["name"] == "auditoryx_session" for c in page.context.cookies()):
        assert time.monotonic() < deadline, "no session cookie after login"
        time.sleep(0.1)


def _expect_cards(page, expect, cards: dict[str, tuple[str, ...]], where: str) -> None:
    """Every card shown with its label and one of its accepted texts (compact or full)."""
    for label, accepted in cards.items():
        value = metric_value(page, label)
        expect(value).to_have_count(1, timeout=UI_TIMEOUT_MS)
        expect(value).to_have_text(_one_of(accepted), timeout=UI_TIMEOUT_MS)
    shown = dict(page.evaluate(CARDS))
    assert set(shown) == set(cards), f"{where}: cards {sorted(shown)} != {sorted(cards)}"
    wrong = {label: text for label, text in shown.items() if text not in cards[label]}
    assert not wrong, f"{where}: card texts {wrong} not in {cards}"


def _open_from_sidebar(page, expect, title: str, heading: str) -> float:
    """A sidebar navigation item (a client-side page switch); returns the seconds to its heading."""
    sidebar = page.locator("[data-testid=stSidebar]")
    if sidebar.get_attribute("data-collapsed") == "true":
        page.locator("[data-testid=stExpandSidebarButton]").click()
    clicked = time.monotonic()
    page.locator("[data-testid=stSidebarNavLink]", has_text=title).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    return time.monotonic() - clicked


def _open_list(page, expect, combobox, attempts: int = 3) -> None:
    """Open a select box's list (a click that lands while the page reruns can be lost: try again)."""
    for attempt in range(attempts):
        combobox.click()
        try:
            expect(page.get_by_role("option").first).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
            _wait_idle(page)


def _choose_first_option(page, expect, combobox, attempts: int = 3) -> str:
    """Open a select box and choose its first option; returns the option's text. A rerun of the
    page (a refresh publishing meanwhile) can close the list under the pointer: open it again."""
    for attempt in range(attempts):
        _open_list(page, expect, combobox)
        first = page.get_by_role("option").first
        try:
            name = first.inner_text(timeout=5_000).strip()
            first.click(timeout=5_000)
            return name
        except Exception as error:  # noqa: BLE001 - Playwright's TimeoutError (no import: it may be missing)
            if type(error).__name__ != "TimeoutError" or attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
            _wait_idle(page)
    raise AssertionError("unreachable")


def _top_artist(world, tenant_id: str) -> tuple[str, str]:
    """(id, name shown) of the tenant's top performer of the last 30 days: the largest recognized
    revenue in fct_bookings_daily, shown by its stage name (legal name when it has none)."""
    daily = _mart(world, tenant_id, "fct_bookings_daily").filter(
        pl.col("day").is_between(AS_OF - dt.timedelta(days=29), AS_OF))
    ranked = daily.group_by("artist_id").agg(pl.col("recognized_revenue").sum()).sort(
        ["recognized_revenue", "artist_id"], descending=[True, False])
    artist_id = ranked["artist_id"][0]
    row = _mart(world, tenant_id, "dim_artists").filter(pl.col("artist_id") == artist_id).row(0, named=True)
    return artist_id, row["stage_name"] or row["artist_name"]


def _lifetime(world, tenant_id: str, artist_id: str) -> dict:
    return _mart(world, tenant_id, "dim_artists").filter(pl.col("artist_id") == artist_id).row(0, named=True)


def _one_of(texts) -> re.Pattern:
    """A whole-text pattern matching any of ``texts``."""
    return re.compile("^(" + "|".join(re.escape(t) for t in texts) + ")$")


def _click_first_bar(page) -> None:
    """Click rank 1 of the top-performers bar chart as a person does (Plotly's drag layer takes the
    pointer, so the click goes to the bar's centre on screen)."""
    chart = page.locator(TOP_CHART)
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")
    bar = chart.locator("g.point path").first
    bar.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(300)
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.wait_for_timeout(200)
    page.mouse.click(x, y)


def _journey(page, expect, world, base_url: str, shots=None, mid_session=None) -> dict[str, float]:
    """Log in as A → dashboard → top performer → roster artist → projects → a project → data quality.

    ``mid_session`` (optional) is called right after the dashboard was checked; the rest of the
    journey runs while whatever it started goes on. Returns the seconds of each step."""
    a = world.a
    timings: dict[str, float] = {}
    cards = expected_cards(world, a.id)
    timings["login → dashboard"] = _log_in(page, expect, base_url, a.admin_email, a.name)
    _expect_cards(page, expect, cards, "dashboard")
    _wait_idle(page)
    _wait_for_session_cookie(page)
    artist_id, artist_name = _top_artist(world, a.id)
    lifetime_before = _lifetime(world, a.id, artist_id)  # a refresh may publish while the journey goes on
    chart = page.locator(TOP_CHART)
    expect(chart).to_contain_text(artist_name, timeout=UI_TIMEOUT_MS)  # rank 1 by stage name
    # the artist filter offers A's artists only (the list shows what matches the typed text)
    artist_filter = page.locator("[data-testid=stMultiSelect]").filter(has_text="Artists")
    artist_filter.click()
    search = artist_filter.locator("input")
    search.fill(artist_name)
    expect(page.get_by_role("option", name=artist_name, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    search.fill(CANARY.split()[-1])
    expect(page.get_by_role("option", name=artist_name, exact=True)).to_have_count(0)
    expect(page.get_by_role("option", name=CANARY)).to_have_count(0)
    search.fill("")
    page.keyboard.press("Escape")
    _no_error(page, "dashboard")
    _no_canary(page, world, "dashboard")
    if shots is not None:
        _shoot(page, shots, "1-dashboard")
    if mid_session is not None:
        mid_session()

    _click_first_bar(page)
    clicked = time.monotonic()
    expect(page.get_by_role("heading", name=artist_name, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    timings["top performer → artist"] = time.monotonic() - clicked
    assert f"artist={artist_id}" in page.url
    expect(page.get_by_role("heading", name="Lifetime totals")).to_be_visible(timeout=UI_TIMEOUT_MS)
    versions = (lifetime_before, _lifetime(world, a.id, artist_id))  # the page shows one of them
    locale = _locale(world, a.id)
    expect(metric_value(page, "Completed bookings")).to_have_text(
        _one_of(format_count(row["completed_bookings"]) for row in versions), timeout=UI_TIMEOUT_MS)
    expect(metric_value(page, "Recognized revenue")).to_have_text(
        _one_of(money_card(row["recognized_revenue"], "USD", locale)[0] for row in versions))
    expect(page.locator("[data-testid=stDataFrame]").last).to_be_visible(timeout=UI_TIMEOUT_MS)  # bookings
    _wait_idle(page)
    _no_error(page, "roster artist")
    _no_canary(page, world, "roster artist")
    if shots is not None:
        _shoot(page, shots, "2-roster-artist")

    timings["→ projects"] = _open_from_sidebar(page, expect, "Projects", "Projects")
    expect(metric_value(page, "Projects")).to_be_visible(timeout=UI_TIMEOUT_MS)
    projects = _mart(world, a.id, "fct_project_health")
    assert projects.height > 0
    expect(metric_value(page, "Projects")).to_have_text(format_count(projects.height))
    _wait_idle(page)
    clicked = time.monotonic()
    project_name = _choose_first_option(page, expect, page.get_by_role("combobox", name="Project", exact=True))
    expect(page.get_by_role("heading", name=project_name, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    timings["project picked → details"] = time.monotonic() - clicked
    project = projects.filter(pl.col("name") == project_name).row(0, named=True)
    assert f"project={project['project_id']}" in page.url
    expect(metric_value(page, "Overdue milestones").last).to_have_text(format_count(project["milestones_overdue"]))
    _wait_idle(page)
    _no_error(page, "project")
    _no_canary(page, world, "project")
    if shots is not None:
        _shoot(page, shots, "3-project")

    timings["→ data quality"] = _open_from_sidebar(page, expect, "Data and quality", "Data and quality")
    expect(metric_value(page, "Data as of")).to_have_text(format_date(AS_OF), timeout=UI_TIMEOUT_MS)
    _wait_idle(page)
    _no_error(page, "data quality")
    _no_canary(page, world, "data quality")
    if shots is not None:
        _shoot(page, shots, "4-data-quality")
    return timings


def _log_out(page, expect, world) -> None:
    a = world.a
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Email", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    _wait_idle(page)
    expect(page.locator("[data-testid=stMetric]")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    body = page.inner_text("body")
    assert a.name not in body and a.admin_email not in body
    assert _cookie_gone(page), "the session cookie outlived the logout"


def _cookie_gone(page) -> bool:
    """/auth/logout clears the session cookie shortly after the click."""
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while any(c["name"] == "auditoryx_session" for c in page.context.cookies()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _print_timings(title: str, timings: dict[str, float]) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n[{title}] " + "; ".join(f"{step} {seconds:.2f} s" for step, seconds in timings.items())
          + f" (load average {load})")


# ------------------------------------------------------------------------------------------ tests


def test_journey_with_screenshots(exec_server, exec_world, context, expect, shots):
    world = exec_world
    page = context.new_page()
    timings = _journey(page, expect, world, exec_server, shots=shots)
    _print_timings("journey", timings)

    # the same pages at a phone's width, opened by their links in the logged-in browser
    artist_id, artist_name = _top_artist(world, world.a.id)
    project = _mart(world, world.a.id, "fct_project_health").row(0, named=True)
    phone = context.new_page()
    phone.set_viewport_size(PHONE)
    for name, path, heading in (("1-dashboard", "", world.a.name),
                                ("2-roster-artist", f"roster?artist={artist_id}", artist_name),
                                ("3-project", f"projects?project={project['project_id']}", project["name"]),
                                ("4-data-quality", "data-quality", "Data and quality")):
        phone.goto(f"{exec_server}/{path}")
        expect(phone.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(phone.locator("[data-testid=stMetricValue]").first).to_be_visible(timeout=UI_TIMEOUT_MS)
        _wait_idle(phone)
        _no_error(phone, f"390 px {name}")
        _no_canary(phone, world, f"390 px {name}")
        _shoot(phone, shots, name)
    phone.close()

    _log_out(page, expect, world)
    _shoot(page, shots, "5-logged-out")
    page.reload()  # the cookie is gone: a reload shows the login form, not the dashboard
    expect(page.get_by_label("Email", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert world.a.name not in page.inner_text("body")
    assert all(shot.stat().st_size > 0 for shot in shots.taken)


@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY"])
def test_kpi_cards_show_full_or_compact_values_uncut(exec_server, exec_world, context, expect, currency):
    world = exec_world
    tenant = world.by_currency[currency]
    cards = expected_cards(world, tenant.id)
    assert _mart(world, tenant.id, "kpi_summary")["base_currency"][0] == currency
    page = context.new_page()
    page.set_viewport_size({"width": KPI_WIDTHS[0], "height": 900})
    _log_in(page, expect, exec_server, tenant.admin_email, tenant.name)
    for label in ("Recognized revenue", "Receivables due"):  # the full amount on hover
        page.get_by_role("button", name=f"Help for {label}").hover()
        expect(page.locator("[data-testid=stTooltipContent]")).to_contain_text(cards[label][1],
                                                                              timeout=UI_TIMEOUT_MS)
        page.mouse.move(0, 0)
        expect(page.locator("[data-testid=stTooltipContent]")).to_have_count(0, timeout=UI_TIMEOUT_MS)
    for width in KPI_WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(400)  # the columns reflow
        _expect_cards(page, expect, cards, f"{currency} at {width} px")
        cut = page.evaluate(CUT_IN_CARDS)
        assert cut == [], f"{currency} at {width} px: text cut in the KPI cards: {cut}"
        shown = page.evaluate(CARDS)
        assert not any("…" in text or "..." in text for _, text in shown), shown
    if tenant is not world.b:
        _no_canary(page, world, f"{currency} dashboard")


def _add_booking(world, artist_id: str) -> None:
    """A completed, paid booking of A's top artist two days before the as-of date."""
    end = dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, 15, tzinfo=dt.timezone.utc) - dt.timedelta(days=2)
    engine = make_engine(world.settings.operational_database_url)
    try:
        with Session(engine) as session, session.begin():
            assert session.scalar(select(Artist.org_id).where(Artist.id == artist_id)) == world.a.id
            session.execute(insert(Booking), [{
                "id": f"mid-session-{time.time_ns()}", "org_id": world.a.id, "artist_id": artist_id,
                "title": "Mid-session booking", "type": "PERFORMANCE", "status": "COMPLETED",
                "start_date": end - dt.timedelta(hours=2), "end_date": end, "duration_minutes": 120,
                "timezone": "America/New_York", "final_price": NEW_BOOKING, "currency": "USD",
                "payment_status": "PAID",
            }])
    finally:
        engine.dispose()


def test_journey_while_a_refresh_publishes(exec_server, exec_world, context, expect, tmp_path):
    world = exec_world
    a = world.a
    before_version = _current_version(world, a.id)
    before_revenue = _mart(world, a.id, "kpi_summary")["recognized_revenue_30d"][0]
    artist_id, _ = _top_artist(world, a.id)
    running: list[subprocess.Popen] = []

    def publish_mid_session() -> None:
        _add_booking(world, artist_id)
        env = {name: value for name, value in os.environ.items() if not name.startswith("AUDITORYX_")}
        env.update(world.env, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        log = open(tmp_path / "mid-session-refresh.log", "wb")  # noqa: SIM115 - closed with the process
        running.append(subprocess.Popen(
            [sys.executable, "-m", "auditoryx.cli", "refresh", "--tenant", a.slug], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    page = context.new_page()
    started = time.monotonic()
    try:
        timings = _journey(page, expect, world, exec_server, mid_session=publish_mid_session)
        assert running, "the refresh was not started"
        journey_done = time.monotonic()
        # keep switching pages while the refresh runs, so that its publication lands between and
        # during page runs: every page shows its cards, never an error
        switches = 0
        while running[0].poll() is None and time.monotonic() - started < REFRESH_TIMEOUT_S:
            for title, heading in (("Label dashboard", a.name), ("Data and quality", "Data and quality")):
                _open_from_sidebar(page, expect, title, heading)
                expect(page.locator("[data-testid=stMetricValue]").first).to_be_visible(timeout=UI_TIMEOUT_MS)
                _wait_idle(page)
                _no_error(page, f"{title} while the refresh runs")
                switches += 1
        returncode = running[0].wait(timeout=REFRESH_TIMEOUT_S)
        published = time.monotonic()
    finally:
        for proc in running:  # only the refresh this test started
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    log_text = (tmp_path / "mid-session-refresh.log").read_text(errors="replace")
    assert returncode == 0, log_text[-3000:]
    new_version = _current_version(world, a.id)
    assert new_version != before_version  # positive control: a new version was published
    new_cards = expected_cards(world, a.id)
    new_revenue = _mart(world, a.id, "kpi_summary")["recognized_revenue_30d"][0]
    assert new_revenue == before_revenue + NEW_BOOKING  # the booking made it through the pipeline

    # back on the dashboard in the same browser page (no reload): the new version's values
    _open_from_sidebar(page, expect, "Label dashboard", a.name)
    _expect_cards(page, expect, new_cards, "dashboard after the mid-session refresh")
    _wait_idle(page)
    _no_error(page, "dashboard after the mid-session refresh")
    _no_canary(page, world, "dashboard after the mid-session refresh")
    page.get_by_text("Snapshot details").click()
    expect(page.get_by_text(new_version)).to_be_visible(timeout=UI_TIMEOUT_MS)
    _log_out(page, expect, world)
    timings["journey steps"] = journey_done - started
    timings["refresh, from the dashboard to published"] = published - started
    _print_timings(f"journey while a refresh publishes ({switches} page switches while it ran)", timings)


def test_other_pages_cards_uncut(exec_server, exec_world, context, expect):
    """The roster's artist view, Projects (with a project open) and Data and quality: no text in a
    metric card cut at 1024, 1440 or 1920 px (the issue's rule for every page)."""
    world = exec_world
    a = world.a
    artist_id, artist_name = _top_artist(world, a.id)
    project = _mart(world, a.id, "fct_project_health").row(0, named=True)
    page = context.new_page()
    page.set_viewport_size({"width": KPI_WIDTHS[0], "height": 900})
    _log_in(page, expect, exec_server, a.admin_email, a.name)
    _wait_for_session_cookie(page)
    cut: dict[str, list[str]] = {}
    for path, heading in ((f"roster?artist={artist_id}", artist_name),
                          (f"projects?project={project['project_id']}", project["name"]),
                          ("data-quality", "Data and quality")):
        page.goto(f"{exec_server}/{path}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(page.locator("[data-testid=stMetricValue]").last).to_be_visible(timeout=UI_TIMEOUT_MS)
        _wait_idle(page)
        _no_error(page, path)
        for width in KPI_WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(400)  # the columns reflow
            found = page.evaluate(CUT_IN_CARDS)
            if found:
                cut[f"{path.split('?')[0]} at {width} px"] = found
        page.set_viewport_size({"width": KPI_WIDTHS[0], "height": 900})
    assert not cut, f"text cut in metric cards: {cut}"


# --- at a phone's width (390 px) and at 1440 px: no chart's title (nor the detail line under it)
# meets its legend or runs out of its chart, and the Projects health table fits the window (no
# sideways scrolling): label dashboard (every revenue tab), an artist's page and Projects. In this
# module so that it shares the executive world (one refresh) with the journey.

# Per drawn Plotly chart: its title lines' and legend's boxes on screen and the chart's own box.
CHART_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
  const box = e => { const r = e.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right,
                                                                   bottom: r.bottom, width: r.width}; };
  return {
    title: [...plot.querySelectorAll('.gtitle, .gtitle-subtitle')].map(e => e.textContent).join(' / '),
    titles: [...plot.querySelectorAll('.gtitle, .gtitle-subtitle')].map(box),
    legend: plot.querySelector('g.legend') ? box(plot.querySelector('g.legend')) : null,
    chart: box(plot),
  };
}).filter(c => c.chart.width > 0)"""
# The health table and the element that would scroll it sideways, and the page's own width.
TABLE_WIDTHS = """() => { const table = document.querySelector('[data-testid=stTable] table');
  const r = table.getBoundingClientRect();
  return {right: r.right, window: window.innerWidth, page: document.documentElement.scrollWidth,
          scroller: [table.parentElement.scrollWidth, table.parentElement.clientWidth]}; }"""


def _meet(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def _chart_problems(page, where: str) -> tuple[list[str], int]:
    """(what is wrong with the drawn charts, how many have both a title and a legend)."""
    problems, with_legend = [], 0
    charts = page.evaluate(CHART_BOXES)
    assert charts, f"{where}: no chart drawn"
    for chart in charts:
        assert chart["titles"], f"{where}: a chart without a title"
        for title in chart["titles"]:
            if title["left"] < chart["chart"]["left"] - 1 or title["right"] > chart["chart"]["right"] + 1:
                problems.append(f"{where}: title {chart['title']!r} runs out of its chart")
            if chart["legend"] is not None and _meet(title, chart["legend"]):
                problems.append(f"{where}: title {chart['title']!r} meets its legend")
        with_legend += chart["legend"] is not None
    return problems, with_legend


def _open(page, expect, url: str, heading: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    _wait_idle(page)
    page.wait_for_timeout(500)  # charts lay out
    _no_error(page, url)


def test_titles_never_meet_legends_and_the_projects_table_fits_a_phone(exec_server, exec_world, context, expect,
                                                                        shots):
    world = exec_world
    a = world.a
    artist_id, artist_name = _top_artist(world, a.id)
    assert _mart(world, a.id, "fct_project_health").height > 0
    page = context.new_page()
    _log_in(page, expect, exec_server, a.admin_email, a.name)
    _wait_for_session_cookie(page)
    problems: list[str] = []
    legends = 0
    for size in (PHONE, WIDE):
        page.set_viewport_size(size)
        width = size["width"]

        _open(page, expect, f"{exec_server}/", a.name)
        tabs = page.get_by_role("tab")
        for index in range(tabs.count()):  # the revenue charts, one tab at a time
            tabs.nth(index).click()
            page.wait_for_timeout(400)
            found, with_legend = _chart_problems(page, f"dashboard at {width} px, tab {index + 1}")
            problems += found
            legends += with_legend
        _shoot(page, shots, "narrow-1-dashboard")

        _open(page, expect, f"{exec_server}/roster?artist={artist_id}", artist_name)
        found, with_legend = _chart_problems(page, f"artist at {width} px")
        problems, legends = problems + found, legends + with_legend
        _shoot(page, shots, "narrow-2-artist")

        _open(page, expect, f"{exec_server}/projects", "Projects")
        found, with_legend = _chart_problems(page, f"projects at {width} px")
        problems, legends = problems + found, legends + with_legend
        table = page.evaluate(TABLE_WIDTHS)
        if not (table["right"] <= table["window"] and table["scroller"][0] <= table["scroller"][1]
                and table["page"] <= table["window"]):
            problems.append(f"projects at {width} px: the health table does not fit the window: {table}")
        _shoot(page, shots, "narrow-3-projects")
    # positive control: charts with a legend were measured (revenue, bookings, status, artist, milestones)
    assert legends >= 2 * 6, legends
    assert not problems, "\n".join(problems)
