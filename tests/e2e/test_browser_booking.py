"""A booking reaches the dashboard by itself, in a real browser (Chromium/Playwright against
`streamlit run dashboards/server.py`).

Tenant A's admin reads "Active artists" (last 30 days) on the label dashboard, books a new artist (one with
no bookings yet) inside the 30-day window on the "Bookings" page, goes back to "Label dashboard"
through the sidebar, and sees the metric go up by one once the refresh that the booking started
(AUDITORYX_REFRESH_ON_WRITE=direct: `auditoryx refresh --tenant <slug>` in the background) has
published a new snapshot: the dashboard's freshness fragment reruns the page; the page is never
reloaded. The time from clicking "Book" to the new value is printed (pytest -s).

Data: the real pipeline (generate → refresh) on SQLite under the module's tmp folder, as
tests/e2e/conftest.py builds it. Without Playwright or Chromium the test is skipped, except under
CI=true where it fails.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session

from auditoryx.locking import exclusive_lock
from auditoryx.pipeline import refresh
from operational.db import make_engine
from operational.models import Artist
from tests.conftest import AS_OF
from tests.e2e.conftest import only_these_settings, populate, world_env
from tests.e2e.test_browser import (  # noqa: F401 - fixtures: this module gets its own instances
    UI_TIMEOUT_MS,
    metric_value,
    page,
    playwright_api,
    streamlit_server,
)

pytestmark = pytest.mark.browser

PASSWORD = "test-password"  # what populate() gives generated users
NEW_ARTIST = "Newcomer Test Artist"
METRIC = "Active artists"  # of the default period, the last 30 days
BOOKING_DAY = AS_OF - dt.timedelta(days=5)  # inside the window D-29..D
BOOKING_ZONE = "Europe/Berlin"
UPDATE_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def booking_world(tmp_path_factory, playwright_api):
    """Generated tenants A and B, plus an active artist of A without bookings, refreshed once (after
    playwright_api: without a browser the test stops before the refresh, not after it)."""
    root = tmp_path_factory.mktemp("e2e-booking-world")
    env = world_env(root, AS_OF, PASSWORD)
    with only_these_settings(env) as settings:
        tenant_a, _tenant_b = populate(settings.operational_database_url, AS_OF)
        engine = make_engine(settings.operational_database_url)
        try:
            with Session(engine) as session, session.begin():
                session.add(Artist(id="newcomer-artist", org_id=tenant_a.id, name=NEW_ARTIST, is_active=True))
        finally:
            engine.dispose()
        with open(root / "first-refresh.log", "w") as log, contextlib.redirect_stdout(log):
            refresh(settings)  # dbt's progress lines go to the log, not to pytest -s
    return SimpleNamespace(env=env, settings=settings, tenant=tenant_a)


@pytest.fixture(scope="module")
def booking_server(booking_world, tmp_path_factory, playwright_api):
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUDITORYX_")}
    env.update(booking_world.env, AUDITORYX_REFRESH_ON_WRITE="direct")
    try:
        with streamlit_server(tmp_path_factory.mktemp("e2e-booking-streamlit"), env) as base_url:
            yield base_url
    finally:
        # the booking's refresh runs in its own session, outside the server's process group: let it
        # finish (it holds the build lock while it works) before the module's data goes away
        with exclusive_lock(booking_world.settings.resolved_warehouse_dir / "build.lock", timeout_seconds=120):
            pass


def _open_page(page, expect, title: str, heading: str | None = None) -> None:
    """A sidebar navigation item (a client-side navigation, not a page load)."""
    page.locator("[data-testid=stSidebarNavLink]", has_text=title).click()
    expect(page.get_by_role("heading", name=heading or title, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)


def _wait_idle(page) -> None:
    page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden", timeout=UI_TIMEOUT_MS)


def _metric_value(page):
    return metric_value(page, METRIC)


def _widget(scope, testid: str, label: str):
    """The Streamlit widget of that kind whose label is exactly ``label``."""
    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    return scope.locator(f"[data-testid={testid}]").filter(
        has=scope.page.locator("[data-testid=stWidgetLabel]", has_text=exact))


def _choose(page, form, label: str, option: str) -> None:
    """Pick ``option`` in a selectbox by typing it, as a person with a long list does."""
    box = _widget(form, "stSelectbox", label)
    box.click()
    box.locator("input").fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    page.get_by_role("listbox").wait_for(state="hidden")


def _set_time(form, expect, label: str, hour: int, minute: int) -> None:
    """A time field (hour and minute segments): type into the hour segment, which moves on to the minutes."""
    box = _widget(form, "stTimeInput", label)
    box.get_by_role("spinbutton", name=f"hour, {label}").click()
    box.page.keyboard.type(f"{hour:02d}{minute:02d}")
    expect(box.locator("input[type=hidden]")).to_have_value(f"{hour:02d}:{minute:02d}:00")


def test_booking_shows_on_the_dashboard_without_reload(booking_server, booking_world, page, playwright_api):
    expect = playwright_api[1]
    tenant = booking_world.tenant
    page.set_default_timeout(UI_TIMEOUT_MS)

    page.goto(booking_server)
    page.get_by_label("Email", exact=True).fill(tenant.admin_email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=tenant.name)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(_metric_value(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
    _wait_idle(page)
    before = int(_metric_value(page).inner_text().replace(",", ""))
    document = page.evaluate("performance.timeOrigin")  # changes if the page is ever loaded again

    _open_page(page, expect, "Bookings")
    form = page.locator("[data-testid=stForm]").first  # the booking form (the matching one follows)
    expect(form).to_be_visible(timeout=UI_TIMEOUT_MS)
    _choose(page, form, "Artist", NEW_ARTIST)
    _widget(form, "stTextInput", "Title").locator("input").fill("Browser test session")
    date_field = _widget(form, "stDateInput", "Date")
    date_field.get_by_role("spinbutton", name="year, Date").click()  # year, month, day segments
    page.keyboard.type(f"{BOOKING_DAY:%Y%m%d}")
    expect(date_field.locator("input[type=date]")).to_have_value(BOOKING_DAY.isoformat())
    _set_time(form, expect, "Starts", 14, 0)
    _set_time(form, expect, "Ends", 16, 0)
    _choose(page, form, "Time zone", BOOKING_ZONE)
    _widget(form, "stTextInput", "Location").locator("input").fill("Studio 3, Berlin")
    _widget(form, "stRadio", "Status").get_by_text("Confirmed", exact=True).click()
    expect(date_field.locator("input[type=date]")).to_have_value(BOOKING_DAY.isoformat())  # still set

    pointer = booking_world.settings.published_dir / tenant.id / "CURRENT"
    published_before = pointer.stat().st_mtime
    form.get_by_role("button", name="Book", exact=True).click()
    clicked, clicked_wall = time.monotonic(), time.time()
    success = page.locator("[data-testid=stAlertContentSuccess]")
    expect(success).to_contain_text(f"Booked Browser test session with {NEW_ARTIST}", timeout=UI_TIMEOUT_MS)
    expect(success).to_contain_text(f"{BOOKING_DAY:%a %d %b %Y} 14:00 ({BOOKING_ZONE}), confirmed")
    expect(success).to_contain_text("The dashboard shows the change in about 10 seconds")
    booked = time.monotonic()

    _open_page(page, expect, "Label dashboard", heading=tenant.name)
    expect(_metric_value(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
    arrived = time.monotonic()
    on_arrival = _metric_value(page).inner_text()
    try:
        expect(_metric_value(page)).to_have_text(f"{before + 1:,}", timeout=UPDATE_TIMEOUT_MS)
    except AssertionError as exc:
        log = booking_world.settings.resolved_var_dir / "logs" / "refresh-on-write.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no refresh-on-write.log)"
        pytest.fail(f"{exc}\n\nCURRENT republished: {pointer.stat().st_mtime != published_before}; "
                    f"refresh-on-write.log:\n{tail}")
    changed = time.monotonic()

    assert page.evaluate("performance.timeOrigin") == document, "the page was loaded again"
    published = pointer.stat().st_mtime
    assert published != published_before  # positive control: the new value came with a new snapshot
    how = ("the freshness fragment reran the page" if on_arrival == f"{before:,}"
           else f"already shown on arrival ({on_arrival})")
    print(f"\n[booking → dashboard] {METRIC}: {before} → {before + 1}. From the click on Book: "
          f"success message {booked - clicked:.1f} s, back on the dashboard {arrived - clicked:.1f} s, "
          f"new snapshot published {published - clicked_wall:.1f} s, metric changed {changed - clicked:.1f} s "
          f"({how})")
