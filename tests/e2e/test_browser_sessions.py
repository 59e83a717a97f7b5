"""Login sessions in a real browser: `streamlit run dashboards/server.py` driven by Chromium/Playwright.

- a login survives a reload and opens a new tab logged in, through the HttpOnly cookie;
- a logout holds: going back or reloading shows the login form, never the dashboard;
- a user deactivated elsewhere is logged out at the next interaction;
- (expected to fail until fixed) the session token is not left in the page for scripts to read;
- screenshots of the main pages at a desktop and a phone size (under the test's tmp_path, and
  copied to $AUDITORYX_SCREENSHOT_DIR when it is set) for a person to look at.

Server, world and browser helpers come from test_browser.py; this module builds its own world
(module scope), so deactivating a user here never touches the other module's data.
Without Playwright or Chromium the tests are skipped, except under CI=true where they fail.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.test_browser import (  # noqa: F401 - fixtures: this module gets its own instances
    browser,
    context,
    CHROMIUM_ARGS,
    UI_TIMEOUT_MS,
    playwright_api,
    server,
    tenant_data,
    world,
)

pytestmark = pytest.mark.browser

COOKIE_NAME = "auditoryx_session"
ENDED_NOTICE = "Your session has ended. Please log in again."
DASHBOARD_MARKER = "Recognized revenue"  # a KPI card's label
VIEWPORTS = {"1440x900": {"width": 1440, "height": 900}, "390x844": {"width": 390, "height": 844}}

# Records, in every document of the page, whether tenant A's dashboard was ever put in the DOM
# (even for an instant), from the moment the test arms it with window.__auditoryxArm().
WATCH_SCRIPT = """
(() => {
  const markers = %s;
  window.__auditoryxSeen = [];
  window.__auditoryxArm = () => { window.__auditoryxSeen = []; };
  const check = () => {
    const text = document.body ? document.body.textContent : "";
    for (const marker of markers) {
      if (text.includes(marker) && !window.__auditoryxSeen.includes(marker)) window.__auditoryxSeen.push(marker);
    }
  };
  new MutationObserver(check).observe(document, {childList: true, subtree: true, characterData: true});
})();
"""


@pytest.fixture
def expect(playwright_api):
    return playwright_api[1]


def _email_field(page):
    return page.get_by_label("Email", exact=True)


def _log_in(page, expect, server: str, email: str, heading: str) -> None:
    page.goto(server)
    expect(_email_field(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
    _email_field(page).fill(email)
    page.get_by_label("Password", exact=True).fill(tenant_data.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=UI_TIMEOUT_MS)


def _session_cookie(context, timeout_s: float = UI_TIMEOUT_MS / 1000) -> dict:
    """The session cookie, once the page has posted the token to /auth/session."""
    deadline = time.monotonic() + timeout_s
    while True:
        cookies = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
        if cookies:
            return cookies[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no {COOKIE_NAME} cookie after login; cookies: {[c['name'] for c in context.cookies()]}")
        time.sleep(0.1)


def _wait_idle(page) -> None:
    """The script run finished (Streamlit's running indicator is gone)."""
    page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden", timeout=UI_TIMEOUT_MS)


def _expect_logged_out(page, expect, tenant) -> None:
    expect(_email_field(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    _wait_idle(page)
    expect(page.get_by_text(DASHBOARD_MARKER, exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    body = page.inner_text("body")
    assert tenant.name not in body and tenant.email not in body


def _expect_dashboard(page, expect, tenant) -> None:
    expect(page.get_by_role("heading", name=tenant.name)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text(DASHBOARD_MARKER, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(_email_field(page)).to_have_count(0)


def _seen(page) -> list[str]:
    return page.evaluate("window.__auditoryxSeen || []")


def test_reload_and_new_tab_stay_logged_in(server, world, context, expect):
    a = world.a
    page = context.new_page()
    _log_in(page, expect, server, a.email, a.name)

    cookie = _session_cookie(context)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert page.evaluate("document.cookie").find(COOKIE_NAME) == -1  # invisible to scripts

    page.reload()
    _expect_dashboard(page, expect, a)

    other = context.new_page()
    other.goto(server)
    _expect_dashboard(other, expect, a)
    deep = context.new_page()  # a link to another page opens it, logged in
    deep.goto(f"{server}/users")
    expect(deep.get_by_role("heading", name="Users", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(deep.get_by_role("button", name="Log out")).to_be_visible()
    assert [c["value"] for c in context.cookies() if c["name"] == COOKIE_NAME] == [cookie["value"]]


def test_session_token_not_readable_by_page_scripts(server, world, context, expect):
    a = world.a
    page = context.new_page()
    _log_in(page, expect, server, a.email, a.name)
    token = _session_cookie(context)["value"]
    _wait_idle(page)
    assert not page.evaluate("t => document.documentElement.outerHTML.includes(t)", token)


def test_logout_holds_after_back_and_reload(server, world, context, expect):
    a = world.a
    context.add_init_script(WATCH_SCRIPT % json.dumps([DASHBOARD_MARKER, a.name]))
    page = context.new_page()
    _log_in(page, expect, server, a.email, a.name)  # document 1: the dashboard
    _session_cookie(context)
    page.goto(f"{server}/users")  # document 2, logged in by the cookie
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    _open_page(page, expect, "Organization settings")  # a history entry inside document 2
    _wait_idle(page)
    document = page.evaluate("performance.timeOrigin")

    page.get_by_role("button", name="Log out").click()
    _expect_logged_out(page, expect, a)
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while any(c["name"] == COOKIE_NAME for c in context.cookies()):  # /auth/logout cleared it
        assert time.monotonic() < deadline, "the session cookie outlived the logout"
        time.sleep(0.1)

    # Back: the page gone back to (in this document) shows the login form under its own URL
    page.evaluate("window.__auditoryxArm()")
    page.go_back()
    page.wait_for_timeout(1000)  # the rerun for the page gone back to
    _expect_logged_out(page, expect, a)
    assert _seen(page) == [], f"logout + back showed tenant A ({page.url}): {_seen(page)}"

    # straight back into document 1, where the dashboard was (as the back button's history menu
    # does): a new load or a back/forward-cache restore must not show the dashboard either
    page.evaluate("window.__auditoryxArm()")
    # entry 0 is about:blank, entry 1 is document 1 (the Navigation API knows where we are)
    page.evaluate("history.go(1 - navigation.currentEntry.index)")
    page.wait_for_function("t => performance.timeOrigin !== t", arg=document, timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    _expect_logged_out(page, expect, a)
    assert _seen(page) == [], f"going back to the dashboard's document after logout showed tenant A: {_seen(page)}"

    page.reload()
    _expect_logged_out(page, expect, a)
    assert _seen(page) == [], f"tenant A's pages were shown after logout + back + reload: {_seen(page)}"

    # a brand-new tab of the same browser is logged out too
    other = context.new_page()
    other.goto(f"{server}/users")
    _expect_logged_out(other, expect, a)
    assert _seen(other) == []


def _deactivate(world, email: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(world.operational_url)
    try:
        with engine.begin() as conn:
            changed = conn.execute(text("UPDATE users SET is_active = false WHERE email = :email"), {"email": email})
            assert changed.rowcount == 1
    finally:
        engine.dispose()


def test_user_deactivated_elsewhere_is_logged_out_at_next_interaction(server, world, context, expect):
    a = world.a
    email = tenant_data.role_email(a, "LABEL_MANAGER")  # not the admin: other tests log in as the admin
    page = context.new_page()
    _log_in(page, expect, server, email, a.name)
    expect(page.get_by_text(DASHBOARD_MARKER, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    _session_cookie(context)
    _wait_idle(page)

    _deactivate(world, email)  # as an administrator would, from another session

    # the next interaction (the "r" shortcut reruns the page) ends the session
    page.get_by_role("heading", name=a.name).click()  # focus the page, not an input
    page.keyboard.press("r")
    expect(page.get_by_text(ENDED_NOTICE)).to_be_visible(timeout=UI_TIMEOUT_MS)
    _expect_logged_out(page, expect, a)

    # nor does the cookie bring it back
    page.reload()
    _expect_logged_out(page, expect, a)
    other = context.new_page()
    other.goto(server)
    _expect_logged_out(other, expect, a)

    # and logging in again is refused like a wrong password
    _email_field(other).fill(email)
    other.get_by_label("Password", exact=True).fill(tenant_data.PASSWORD)
    other.get_by_role("button", name="Log in").click()
    expect(other.get_by_text("Invalid email or password.")).to_be_visible(timeout=UI_TIMEOUT_MS)
    _expect_logged_out(other, expect, a)


def _shoot(page, folder: Path, name: str) -> list[Path]:
    """The viewport as a person sees it, and the whole page (Streamlit scrolls inside the page, so
    the window is made as tall as the content for the second one)."""
    _wait_idle(page)
    page.wait_for_timeout(500)  # charts and fonts settle
    viewport = dict(page.viewport_size)
    shots = [folder / f"{name}.png", folder / f"{name}-full.png"]
    page.screenshot(path=str(shots[0]))
    height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=stMain], body')]"
                           ".map(e => e.scrollHeight))")
    if height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": min(height, 8000)})
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots[1]))
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)
    else:
        shots[1] = shots[0]
    # no raw exception on any page shown to a person (checked after the shot, which shows it)
    assert page.locator("[data-testid=stException]").count() == 0, f"{name}: {page.inner_text('body')[:2000]}"
    assert "Traceback" not in page.inner_text("body")
    return sorted(set(shots))


def _open_page(page, expect, title: str) -> None:
    """A sidebar navigation item; on a narrow screen the sidebar is opened first."""
    link = page.locator("[data-testid=stSidebarNavLink]", has_text=title)
    if page.locator("[data-testid=stSidebar]").get_attribute("data-collapsed") == "true":
        page.locator("[data-testid=stExpandSidebarButton]").click()
    link.click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    if page.viewport_size["width"] < 640:  # phones: the sidebar overlays the page; close it if it stayed
        sidebar = page.locator("[data-testid=stSidebar]")
        if sidebar.get_attribute("data-collapsed") != "true":
            page.locator("[data-testid=stSidebarCollapseButton] button").click()
        expect(sidebar).to_have_attribute("data-collapsed", "true")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_screenshots(server, world, browser, expect, size, tmp_path):
    a = world.a
    context = browser.new_context(viewport=VIEWPORTS[size])
    context.set_default_timeout(UI_TIMEOUT_MS)
    shots: list[Path] = []
    try:
        page = context.new_page()
        page.goto(server)
        expect(_email_field(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
        shots.extend(_shoot(page, tmp_path, f"{size}-1-login"))

        _email_field(page).fill(a.email)
        page.get_by_label("Password", exact=True).fill(tenant_data.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        _expect_dashboard(page, expect, a)
        expect(page.locator("[data-testid=stDataFrame]").last).to_contain_text("Lumen Vale", timeout=UI_TIMEOUT_MS)
        shots.extend(_shoot(page, tmp_path, f"{size}-2-dashboard"))

        _open_page(page, expect, "Users")
        expect(page.locator("[data-testid=stDataFrame]")).to_contain_text(a.email, timeout=UI_TIMEOUT_MS)
        shots.extend(_shoot(page, tmp_path, f"{size}-3-users"))

        _open_page(page, expect, "Organization settings")
        expect(page.get_by_role("button", name="Save settings")).to_be_visible(timeout=UI_TIMEOUT_MS)
        shots.extend(_shoot(page, tmp_path, f"{size}-4-organization"))
    finally:
        context.close()
        target = os.environ.get("AUDITORYX_SCREENSHOT_DIR")
        if target and shots:
            Path(target).mkdir(parents=True, exist_ok=True)
            for shot in shots:
                shutil.copy2(shot, Path(target) / shot.name)
    assert all(shot.stat().st_size > 0 for shot in shots)
