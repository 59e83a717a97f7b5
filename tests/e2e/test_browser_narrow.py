"""The executive app at a phone's width (390 px) and at 1440 px in Chromium: no chart's title
(nor the detail line under it) meets its legend or runs out of its chart, and the Projects health
table fits the window (no sideways scrolling), on the label dashboard (every revenue tab), an
artist's page and Projects, over the executive world (the generator's tenants, refreshed once).

Screenshots go under the test's tmp_path (copied to $AUDITORYX_SCREENSHOT_DIR when it is set).
Without Playwright or Chromium the test is skipped, except under CI=true where it fails.
"""
from __future__ import annotations

import pytest

from tests.e2e.test_browser import UI_TIMEOUT_MS
from tests.e2e.test_browser_executive import (  # noqa: F401 - fixtures: this module gets its own instances
    PHONE,
    WIDE,
    _log_in,
    _mart,
    _no_error,
    _shoot,
    _top_artist,
    _wait_for_session_cookie,
    _wait_idle,
    browser,
    context,
    exec_server,
    exec_world,
    expect,
    playwright_api,
    shots,
)

pytestmark = pytest.mark.browser

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
