"""Deep links in a real browser: a page URL typed while logged out shows the login form (not
"Page not found") and, after login, that page; the Projects and Data-and-quality pages open by URL.

Server, world and browser helpers come from test_browser.py (this module gets its own instances).
Without Playwright or Chromium the tests are skipped, except under CI=true where they fail.
"""
from __future__ import annotations

import time

import pytest

from tests.e2e.test_browser import (  # noqa: F401 - fixtures: this module gets its own instances
    UI_TIMEOUT_MS,
    page,
    playwright_api,
    server,
    tenant_data,
    world,
)

pytestmark = pytest.mark.browser


def _wait_for_session_cookie(page, timeout_s: float = UI_TIMEOUT_MS / 1000) -> None:
    """The login posts the token to /auth/session after the page rendered: wait for the cookie."""
    deadline = time.monotonic() + timeout_s
    while not any(c["name"] == "auditoryx_session" for c in page.context.cookies()):
        assert time.monotonic() < deadline, "no session cookie after login"
        time.sleep(0.1)


def _log_in_here(page, expect, email: str) -> None:
    email_field = page.get_by_label("Email", exact=True)
    expect(email_field).to_be_visible(timeout=UI_TIMEOUT_MS)
    email_field.fill(email)
    page.get_by_label("Password", exact=True).fill(tenant_data.PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("path,heading", [("projects", "Projects"), ("data-quality", "Data and quality"),
                                          ("dashboard", None)])
def test_page_url_typed_before_login_opens_after_login(server, world, page, playwright_api, path, heading):
    expect = playwright_api[1]
    a = world.a
    page.goto(f"{server}/{path}")
    _log_in_here(page, expect, a.email)
    expect(page.get_by_role("heading", name=heading or a.name, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    assert page.url.rstrip("/").endswith(f"/{path}") or (path == "dashboard" and page.url.rstrip("/") == server)
    body = page.inner_text("body")
    assert tenant_data.CANARY_ARTIST not in body and world.b.name not in body
    # logged in (cookie): the other page opens by its URL in the same browser
    _wait_for_session_cookie(page)
    other, other_heading = ("data-quality", "Data and quality") if path != "data-quality" else ("projects", "Projects")
    page.goto(f"{server}/{other}")
    expect(page.get_by_role("heading", name=other_heading, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
