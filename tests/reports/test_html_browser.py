"""The HTML report opened offline in Chromium (Playwright): its Plotly charts are drawn."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from operational.permissions import command_line_operator as operator
from reports.export import Branding, export_report
from reports.render_pdf import find_chromium
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.browser


def test_html_report_renders_its_charts_offline(report_world, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        skip_or_fail(f"playwright is not installed: {exc}")
    executable = find_chromium()
    if executable is None:
        skip_or_fail("Chromium not found (/usr/bin/chromium or $AUDITORYX_CHROMIUM)")
    world = dataclasses.replace(report_world, exports_dir=tmp_path / "exports")
    result = export_report(world.published_dir, world.exports_dir, world.a.tenant_id, actor=operator(world.a.tenant_id),
                           formats="html", branding=Branding(name="Aurora Reports", colour="#0f766e"),
                           now=dt.datetime(2025, 3, 16, tzinfo=dt.timezone.utc))
    page_file = result.files[0]
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_file.as_uri())
            for chart in ("revenue_by_month", "top_performers", "receivables_aging"):
                page.wait_for_selector(f"#chart-{chart} .main-svg", timeout=30_000)
            bars = page.locator("#chart-revenue_by_month g.point").count()
            assert bars >= 12  # months × booking types drawn as bars
            assert page.locator("#chart-top_performers g.point").count() == 3
            assert page.locator("h1").inner_text() == "Aurora Reports"
            assert "Marisol Keys" in page.locator("#top_performers table").inner_text()
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    assert all(url.startswith(("file:", "data:", "about:")) for url in requests), requests  # nothing fetched
