"""Deep links in a real browser: a page URL typed while logged out shows the login form (not
"Page not found") and, after login, that page; the Projects and Data-and-quality pages open by URL,
a project by ``?project=``, and screenshots of both at 1440 and 390 px with no metric value cut.

Server and browser helpers come from test_browser.py (this module gets its own instances); the world
is build_world plus projects and milestones for A and B (B's carry the canary).
Without Playwright or Chromium the tests are skipped, except under CI=true where they fail.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.test_browser import (  # noqa: F401 - fixtures: this module gets its own instances
    UI_TIMEOUT_MS,
    page,
    playwright_api,
    server,
    tenant_data,
)

pytestmark = pytest.mark.browser

A_PROJECTS = [
    ("prj-e2e-album", "Lumen Vale debut album", "IN_PROGRESS", "10000.00", "2500.00", dt.date(2025, 9, 30), [
        ("Demos", "COMPLETED", dt.date(2025, 2, 1)), ("Recording", "IN_PROGRESS", dt.date(2025, 4, 1)),
        ("Mixing", "PENDING", dt.date(2025, 5, 15))]),
    ("prj-e2e-film", "Harbor tour film", "IN_PROGRESS", "5000.00", "6200.50", dt.date(2025, 3, 1), [
        ("Shoot", "PENDING", dt.date(2025, 2, 10)), ("Edit", "IN_PROGRESS", dt.date(2025, 3, 1))]),
]
B_PROJECTS = [("prj-e2e-b", f"{tenant_data.CANARY_ARTIST} world tour", "IN_PROGRESS", "77777.77", "1.00",
               dt.date(2025, 12, 1), [(f"{tenant_data.CANARY_ARTIST} rehearsal", "PENDING", dt.date(2025, 1, 5))])]
VIEWPORTS = {"1440x900": {"width": 1440, "height": 900}, "1024x768": {"width": 1024, "height": 768},
             "390x844": {"width": 390, "height": 844}}
# Metric values wider than their box (CSS cuts them with an ellipsis): there must be none.
CUT_METRICS = """() => [...document.querySelectorAll('[data-testid=stMetricValue]')]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = tenant_data.build_world(tmp_path_factory.mktemp("e2e-deep-links-world"))
    for tenant, projects in ((world.a, A_PROJECTS), (world.b, B_PROJECTS)):
        tenant_data.seed_projects(world.operational_url, tenant, projects)
        tenant_data.publish_snapshot(world.published_dir, tenant,
                                     frames={"fct_project_health": tenant_data.project_health_frame(tenant, projects)})
    return world


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


def test_project_link_and_screenshots(server, world, page, playwright_api, tmp_path):
    expect = playwright_api[1]
    page.goto(f"{server}/projects?project=prj-e2e-film")
    _log_in_here(page, expect, world.a.email)
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("At risk: over budget, past deadline, 2 overdue milestones")).to_be_visible(
        timeout=UI_TIMEOUT_MS)
    expect(page.locator("[data-testid=stDataFrame]").last).to_contain_text("Shoot", timeout=UI_TIMEOUT_MS)
    assert "project=prj-e2e-film" in page.url
    _wait_for_session_cookie(page)
    shots: list[Path] = []
    try:
        for size, viewport in VIEWPORTS.items():
            page.set_viewport_size(viewport)
            page.goto(f"{server}/projects?project=prj-e2e-film")
            expect(page.locator("[data-testid=stDataFrame]").last).to_contain_text("Shoot", timeout=UI_TIMEOUT_MS)
            page.wait_for_timeout(500)
            assert page.evaluate(CUT_METRICS) == [], size
            shots.append(tmp_path / f"{size}-projects.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            page.get_by_role("heading", name="Project details").scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            shots.append(tmp_path / f"{size}-project-details.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            page.goto(f"{server}/data-quality")
            expect(page.get_by_text("Last refresh:")).to_be_visible(timeout=UI_TIMEOUT_MS)
            expect(page.get_by_text("Stale data: the last refresh was")).to_be_visible()
            page.wait_for_timeout(500)
            assert page.evaluate(CUT_METRICS) == [], size
            shots.append(tmp_path / f"{size}-data-quality.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            body = page.inner_text("body")
            assert tenant_data.CANARY_ARTIST not in body and world.b.name not in body
    finally:
        target = os.environ.get("AUDITORYX_SCREENSHOT_DIR")
        if target and shots:
            Path(target).mkdir(parents=True, exist_ok=True)
            for shot in shots:
                if shot.exists():
                    shutil.copy2(shot, Path(target) / shot.name)
    assert all(shot.stat().st_size > 0 for shot in shots)
