"""Pure helpers of the Projects and Data-and-quality pages (no Streamlit run, no I/O)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from dashboards.charts import milestone_state, milestone_timeline_figure
from dashboards.formatting import (
    format_age,
    format_local_time,
    format_pct,
    is_stale,
    milestones_cell,
    milestones_progress,
    risk_cell,
    risk_reasons,
    snapshot_age,
    source_label,
    status_label,
)
from dashboards.queries import parse_row_counts

UTC = dt.timezone.utc
AS_OF = dt.date(2025, 3, 15)


@pytest.mark.parametrize("over,past,overdue,expected", [
    (False, False, 0, []),
    (True, False, 0, ["over budget"]),
    (False, True, None, ["past deadline"]),
    (False, False, 1, ["1 overdue milestone"]),
    (True, True, 3, ["over budget", "past deadline", "3 overdue milestones"]),
])
def test_risk_reasons(over, past, overdue, expected):
    assert risk_reasons(over, past, overdue) == expected


def test_risk_cell():
    assert risk_cell(True, ["over budget", "past deadline"]) == "Yes: over budget, past deadline"
    assert risk_cell(True, []) == "Yes" and risk_cell(False, []) == "No" and risk_cell(None, []) == "No"


def test_percent_progress_and_labels():
    assert format_pct(Decimal("0.25")) == "25%"
    assert format_pct(1.24010) == "124%"
    assert format_pct(0.12345, decimals=1) == "12.3%"
    assert format_pct(None) == "—"
    assert milestones_progress(1, 4) == "1 / 4" and milestones_progress(None, None) == "0 / 0"
    assert milestones_progress(1200, 3400) == "1,200 / 3,400"
    assert milestones_cell(1, 4, 0) == "1 / 4 done" and milestones_cell(0, 3, 2) == "0 / 3 done, 2 overdue"
    assert milestones_cell(None, None, None) == "0 / 0 done"
    assert status_label("IN_PROGRESS") == "In progress" and status_label(None) == "—"
    assert source_label("project_milestones") == "Project milestones"


@pytest.mark.parametrize("moment,zone,expected", [
    (dt.datetime(2025, 3, 15, 6, 30, tzinfo=UTC), "Europe/Paris", "2025-03-15 07:30 CET (Europe/Paris)"),
    (dt.datetime(2025, 7, 1, 6, 30, tzinfo=UTC), "Europe/Paris", "2025-07-01 08:30 CEST (Europe/Paris)"),
    (dt.datetime(2025, 3, 15, 23, 30, tzinfo=UTC), "Asia/Tokyo", "2025-03-16 08:30 JST (Asia/Tokyo)"),
    (dt.datetime(2025, 3, 15, 6, 30, tzinfo=UTC), "UTC", "2025-03-15 06:30 UTC"),
    (dt.datetime(2025, 3, 15, 6, 30), "UTC", "2025-03-15 06:30 UTC"),  # naive = UTC
    (dt.datetime(2025, 3, 15, 6, 30, tzinfo=UTC), "Not/AZone", "2025-03-15 06:30 UTC"),
    (dt.datetime(2025, 3, 15, 6, 30, tzinfo=UTC), "America/Sao_Paulo", "2025-03-15 03:30 -03 (America/Sao_Paulo)"),
    (None, "UTC", "—"),
])
def test_local_time(moment, zone, expected):
    assert format_local_time(moment, zone) == expected


def test_staleness_and_age():
    refreshed = dt.datetime(2025, 3, 15, 6, 30, tzinfo=UTC)
    assert not is_stale(refreshed, refreshed + dt.timedelta(hours=26), 26)
    assert is_stale(refreshed, refreshed + dt.timedelta(hours=26, seconds=1), 26)
    assert is_stale(None, refreshed, 26)  # unknown refresh time: say so
    assert snapshot_age(dt.datetime(2025, 3, 15, 6, 30), refreshed + dt.timedelta(hours=1)) == dt.timedelta(hours=1)
    assert format_age(dt.timedelta(minutes=1)) == "1 minute"
    assert format_age(dt.timedelta(minutes=119)) == "119 minutes"
    assert format_age(dt.timedelta(hours=30)) == "30 hours"
    assert format_age(dt.timedelta(days=600, hours=5)) == "600 days"
    assert format_age(dt.timedelta(days=1200)) == "1,200 days"
    assert format_age(None) == "—"


def test_row_counts_parsing():
    assert parse_row_counts('{"bookings": 12, "artists": 3}') == {"artists": 3, "bookings": 12}
    assert parse_row_counts({"users": "4", "bad": "x"}) == {"users": 4}
    assert parse_row_counts("not json") == {} and parse_row_counts(None) == {} and parse_row_counts("[1]") == {}


def test_milestone_state_follows_the_overdue_rule():
    assert milestone_state("PENDING", dt.date(2025, 3, 14), AS_OF) == "OVERDUE"
    assert milestone_state("IN_PROGRESS", AS_OF, AS_OF) == "IN_PROGRESS"  # due today: not overdue yet
    assert milestone_state("COMPLETED", dt.date(2025, 1, 1), AS_OF) == "COMPLETED"
    assert milestone_state("OVERDUE", dt.date(2025, 6, 1), AS_OF) == "OVERDUE"  # stored status kept
    assert milestone_state("PENDING", None, AS_OF) == "PENDING"


def test_milestone_timeline_figure():
    frame = pl.DataFrame({
        "project": ["<i>LP</i>", "<i>LP</i>", "EP"],
        "title": ["Demos & more", "Mix", "Master"],
        "status": ["COMPLETED", "PENDING", "PENDING"],
        "due_date": [dt.date(2025, 2, 1), dt.date(2025, 3, 1), None],
    })
    fig = milestone_timeline_figure(frame, AS_OF)
    assert fig.layout.title.text == "Milestones by due date"
    assert fig.layout.title.subtitle.text == "As of 2025-03-15 · 1 without a due date"
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {"Completed", "Overdue"}
    assert list(traces["Overdue"].y) == ["&lt;i&gt;LP&lt;/i&gt;"]
    assert traces["Completed"].customdata[0][0] == "Demos &amp; more"
    by_title = milestone_timeline_figure(frame, AS_OF, by="title")
    assert {y for t in by_title.data for y in t.y} == {"Demos &amp; more", "Mix"}
    assert milestone_timeline_figure(frame.head(0), AS_OF).layout.annotations[0].text == "No milestones"
    only_undated = milestone_timeline_figure(frame.tail(1), AS_OF)
    assert only_undated.layout.annotations[0].text == "No milestone has a due date"
    with pytest.raises(ValueError):
        milestone_timeline_figure(frame.drop("due_date"), AS_OF)
