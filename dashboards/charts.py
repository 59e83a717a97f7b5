"""Plotly figures: pure functions from a DataFrame to a figure (no Streamlit, no I/O).

Money columns arrive as exact decimals; they become floats here only to be drawn.
"""
from __future__ import annotations

import datetime as dt
import textwrap
from typing import Any

import plotly.graph_objects as go
import polars as pl

from dashboards.formatting import minor_units

RECOGNIZED_COLOR = "#2563eb"
PIPELINE_COLOR = "#f59e0b"
# one stable colour per booking type (operational.enums.BookingType), whatever the data holds
BOOKING_TYPE_COLORS = {
    "RECORDING_SESSION": "#2563eb",
    "MIXING": "#16a34a",
    "MASTERING": "#9333ea",
    "PRODUCTION": "#dc2626",
    "CONSULTATION": "#0891b2",
    "PERFORMANCE": "#ea580c",
    "WORKSHOP": "#65a30d",
    "OTHER": "#64748b",
}
_FALLBACK_COLORS = ("#a16207", "#be185d", "#4338ca", "#0f766e")

REVENUE_COLUMNS = ("month", "booking_type", "recognized_revenue", "pipeline_revenue")


def money_format(currency: str | None) -> str:
    """d3 number format of an amount in ``currency``: its ISO 4217 minor units (``,.2f``; ``,.0f`` for yen)."""
    return f",.{minor_units(currency)}f"


def _as_polars(frame: Any) -> pl.DataFrame:
    df = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
    if "month" in df.columns and df.schema["month"] != pl.Date:  # pandas has no date dtype
        df = df.with_columns(pl.col("month").cast(pl.Date))
    return df


def _require(frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")


def booking_type_label(booking_type: str) -> str:
    return str(booking_type).replace("_", " ").capitalize()


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out, current = [], first.replace(day=1)
    while current <= last:
        out.append(current)
        current = dt.date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return out


# Shared layout. Streamlit draws a chart as wide as its column, from ~340 px on a 390 px phone to
# ~1300 px: the title (short, with its details on a smaller line under it) is wrapped to lines that
# fit the narrowest column, and the legend sits under the plot area, where it wraps into rows
# without ever reaching the title.
TITLE_LINE_CHARS = 34  # 16 px bold: ~9 px a character, a line fits a ~330 px wide chart
SUBTITLE_LINE_CHARS = 46  # 13 px
TITLE_FONT, SUBTITLE_FONT = 16, 13
_TITLE_LINE_PX, _SUBTITLE_LINE_PX, _TITLE_PAD_PX = 22, 18, 12
LEGEND_PX = 44  # added to a figure's height for a legend row (more rows take it from the plot area)


def wrap_title(text: str | None, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken between words only (a word
    longer than ``width`` stays whole): what a chart title shows, one ``<br>`` between lines."""
    return textwrap.wrap(str(text or ""), width, break_long_words=False, break_on_hyphens=False)


def chart_layout(fig: go.Figure, title: str, subtitle: str | None = None, *, height: int,
                 legend: bool = True, **layout: Any) -> go.Figure:
    """The layout every chart shares: ``title`` at the top left (wrapped to fit a phone), an
    optional ``subtitle`` line of details under it, the top margin as tall as these lines, and
    the legend (when ``legend``) horizontal below the plot area; ``layout`` adds the chart's own
    settings (axes, bar mode…). ``height`` is the figure's height without the legend."""
    title_lines = wrap_title(title, TITLE_LINE_CHARS)
    subtitle_lines = wrap_title(subtitle, SUBTITLE_LINE_CHARS)
    top = (_TITLE_PAD_PX * 2 + _TITLE_LINE_PX * len(title_lines)
           + (_SUBTITLE_LINE_PX * len(subtitle_lines) + _TITLE_PAD_PX // 2 if subtitle_lines else 0))
    title_spec: dict[str, Any] = {
        "text": "<br>".join(title_lines), "font": {"size": TITLE_FONT},
        "x": 0, "xref": "container", "xanchor": "left", "y": 1, "yref": "container", "yanchor": "top",
        "pad": {"t": _TITLE_PAD_PX, "l": 10},
    }
    if subtitle_lines:
        title_spec["subtitle"] = {"text": "<br>".join(subtitle_lines), "font": {"size": SUBTITLE_FONT}}
    fig.update_layout(
        title=title_spec,
        height=height + (LEGEND_PX if legend else 0),
        margin={"l": 10, "r": 10, "t": top, "b": 10},
        showlegend=legend,
        **({"legend": {"orientation": "h", "xref": "container", "x": 0, "xanchor": "left",
                       "yref": "container", "y": 0, "yanchor": "bottom", "title": {"text": None}}}
           if legend else {}),
        **layout,
    )
    return fig


def _empty_figure(title: str, message: str, subtitle: str | None = None) -> go.Figure:
    return chart_layout(go.Figure(), title, subtitle, height=360, legend=False,
                        xaxis={"visible": False}, yaxis={"visible": False},
                        annotations=[{"text": message, "showarrow": False, "font": {"size": 14}}])


def _layout(fig: go.Figure, title: str, currency: str, months: list[dt.date], subtitle: str | None = None) -> go.Figure:
    chart_layout(
        fig, title, subtitle,
        height=380,
        hovermode="x unified",
        yaxis={"title": currency, "tickformat": ",.0f", "rangemode": "tozero"},
        xaxis={"title": None, "tickformat": "%b %Y", "dtick": "M1" if len(months) <= 18 else "M3"},
    )
    if months:
        half_month = dt.timedelta(days=15)
        fig.update_xaxes(range=[months[0] - half_month, months[-1] + half_month])
    return fig


def monthly_totals(frame: Any, first_month: dt.date | None = None, last_month: dt.date | None = None) -> pl.DataFrame:
    """Recognized and pipeline revenue per month (all booking types), months without rows as 0."""
    df = _as_polars(frame)
    _require(df, REVENUE_COLUMNS)
    totals = (
        df.group_by("month")
        .agg(
            pl.col("recognized_revenue").sum().alias("recognized_revenue"),
            pl.col("pipeline_revenue").sum().alias("pipeline_revenue"),
        )
        .sort("month")
    )
    if first_month is None or last_month is None:
        if totals.is_empty():
            return totals
        first_month = first_month or totals["month"].min()
        last_month = last_month or totals["month"].max()
    calendar = pl.DataFrame({"month": _months(first_month, last_month)}, schema={"month": pl.Date})
    return (
        calendar.join(totals.with_columns(pl.col("month").cast(pl.Date)), on="month", how="left")
        .with_columns(pl.col("recognized_revenue", "pipeline_revenue").fill_null(0))
        .sort("month")
    )


def revenue_trend_figure(
    frame: Any,
    currency: str,
    first_month: dt.date | None = None,
    last_month: dt.date | None = None,
    accent: str | None = None,
) -> go.Figure:
    """Grouped bars per month: recognized vs pipeline revenue (summed over booking types);
    recognized revenue in the tenant's ``accent`` colour when given."""
    title, subtitle = f"Monthly revenue ({currency})", "Recognized vs pipeline"
    totals = monthly_totals(frame, first_month, last_month)
    if totals.is_empty() or not (totals["recognized_revenue"].abs().sum() or totals["pipeline_revenue"].abs().sum()):
        return _empty_figure(title, "No revenue in this period", subtitle)
    months = totals["month"].to_list()
    fig = go.Figure()
    for column, name, color in (
        ("recognized_revenue", "Recognized", accent or RECOGNIZED_COLOR),
        ("pipeline_revenue", "Pipeline", PIPELINE_COLOR),
    ):
        fig.add_bar(
            x=months,
            y=totals[column].cast(pl.Float64).to_list(),
            name=name,
            marker_color=color,
            hovertemplate=f"{name}: %{{y:{money_format(currency)}}} {currency}<extra></extra>",
        )
    fig.update_layout(barmode="group")
    return _layout(fig, title, currency, months, subtitle)


def revenue_by_type_figure(
    frame: Any,
    currency: str,
    measure: str = "recognized_revenue",
    first_month: dt.date | None = None,
    last_month: dt.date | None = None,
) -> go.Figure:
    """Stacked bars per month of one revenue measure, one colour per booking type."""
    df = _as_polars(frame)
    _require(df, ("month", "booking_type", measure))
    label = measure.removesuffix("_revenue").capitalize()
    title, subtitle = f"{label} revenue ({currency})", "By booking type"
    by_type = (
        df.group_by("month", "booking_type").agg(pl.col(measure).sum()).filter(pl.col(measure) != 0)
    )
    if by_type.is_empty():
        return _empty_figure(title, f"No {label.lower()} revenue in this period", subtitle)
    months = _months(
        first_month or by_type["month"].min(), last_month or by_type["month"].max()
    )
    # biggest types first so the stack order and legend are stable and readable
    order = (
        by_type.group_by("booking_type").agg(pl.col(measure).sum().alias("total"))
        .sort(["total", "booking_type"], descending=[True, False])["booking_type"].to_list()
    )
    fig = go.Figure()
    extra = iter(_FALLBACK_COLORS * 8)
    for booking_type in order:
        part = by_type.filter(pl.col("booking_type") == booking_type).sort("month")
        name = booking_type_label(booking_type)
        fig.add_bar(
            x=part["month"].to_list(),
            y=part[measure].cast(pl.Float64).to_list(),
            name=name,
            marker_color=BOOKING_TYPE_COLORS.get(booking_type) or next(extra),
            hovertemplate=f"{name}: %{{y:{money_format(currency)}}} {currency}<extra></extra>",
        )
    fig.update_layout(barmode="stack")
    return _layout(fig, title, currency, months, subtitle)


# booking calendar

# one stable colour per booking status (operational.enums.BookingStatus)
BOOKING_STATUS_COLORS = {
    "DRAFT": "#94a3b8",
    "PENDING_APPROVAL": "#f59e0b",
    "APPROVED": "#0891b2",
    "CONFIRMED": "#2563eb",
    "IN_PROGRESS": "#9333ea",
    "COMPLETED": "#16a34a",
    "CANCELLED": "#dc2626",
    "DISPUTE": "#be185d",
}
CALENDAR_COLUMNS = ("artist", "title", "status", "start", "end")


def _wall_clock(frame: pl.DataFrame, column: str, tz_name: str) -> pl.DataFrame:
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return frame.with_columns(pl.col(column).dt.convert_time_zone(tz_name).dt.replace_time_zone(None))
    return frame


def _naive(moment: dt.datetime, tz_name: str) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    import zoneinfo

    return moment.astimezone(zoneinfo.ZoneInfo(tz_name)).replace(tzinfo=None)


def _plain(text: str) -> str:
    """User text shown in a hover label: Plotly reads a few HTML tags there, these are not tags."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def calendar_figure(frame: Any, start: dt.datetime, end: dt.datetime, tz_name: str) -> go.Figure:
    """Bookings as a timeline: one row per artist, one bar per booking, coloured by status.

    ``frame`` has columns artist, title, status, start, end (wall-clock times in ``tz_name``, or
    aware datetimes converted to it); ``start``/``end`` bound the x axis (same convention)."""
    df = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
    title = f"Bookings by artist (times in {tz_name})"
    if df.is_empty():
        return _empty_figure(title, "No bookings in this period")
    _require(df, CALENDAR_COLUMNS)
    df = _wall_clock(_wall_clock(df, "start", tz_name), "end", tz_name)
    artists = sorted(set(df["artist"].to_list()), key=str.lower)
    fig = go.Figure()
    extra = iter(_FALLBACK_COLORS * 8)
    statuses = [s for s in BOOKING_STATUS_COLORS if s in set(df["status"].to_list())]
    statuses += sorted(set(df["status"].to_list()) - set(statuses))
    for status in statuses:
        part = df.filter(pl.col("status") == status)
        starts, ends = part["start"].to_list(), part["end"].to_list()
        name = booking_type_label(status)
        fig.add_bar(
            base=[s.isoformat() for s in starts],
            x=[(e - s).total_seconds() * 1000 for s, e in zip(starts, ends)],
            y=part["artist"].to_list(),
            orientation="h",
            name=name,
            marker_color=BOOKING_STATUS_COLORS.get(status) or next(extra),
            customdata=[[_plain(t), f"{s:%a %d %b %H:%M}", f"{e:%a %d %b %H:%M}"]
                        for t, s, e in zip(part["title"].to_list(), starts, ends)],
            hovertemplate=f"%{{customdata[0]}}<br>%{{y}} · {name}<br>%{{customdata[1]}} – %{{customdata[2]}}"
                          "<extra></extra>",
        )
    return chart_layout(
        fig, title,
        barmode="overlay",
        height=max(260, 120 + 44 * len(artists)),
        xaxis={"type": "date", "range": [_naive(start, tz_name).isoformat(), _naive(end, tz_name).isoformat()],
               "title": None},
        yaxis={"title": None, "categoryorder": "array", "categoryarray": artists[::-1], "type": "category"},
    )


MILESTONE_STATUS_COLORS = {
    "PENDING": "#94a3b8",
    "IN_PROGRESS": "#2563eb",
    "COMPLETED": "#16a34a",
    "OVERDUE": "#dc2626",  # due before the as-of date and not completed, whatever status it stores
}
MILESTONE_COLUMNS = ("project", "title", "status", "due_date")


def milestone_state(status: str, due_date: dt.date | None, as_of: dt.date) -> str:
    """The state a milestone is drawn in: OVERDUE when due before ``as_of`` and not completed
    (METRICS.md, "Overdue milestone"), else its own status."""
    status = str(status or "PENDING").upper()
    if status != "COMPLETED" and due_date is not None and due_date < as_of:
        return "OVERDUE"
    return status


def milestone_timeline_figure(frame: Any, as_of: dt.date, by: str = "project") -> go.Figure:
    """Milestones on a date axis: one row per project (``by="project"``) or per milestone
    (``by="title"``, a single project's drill-down), one marker per due date, coloured by state,
    with a line at the as-of date. Milestones without a due date are left out (said in the title).

    ``frame`` has columns project, title, status, due_date (a date or None)."""
    df = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
    title, subtitle = "Milestones by due date", f"As of {as_of.isoformat()}"
    if df.is_empty():
        return _empty_figure(title, "No milestones", subtitle)
    _require(df, MILESTONE_COLUMNS)
    undated = df.filter(pl.col("due_date").is_null()).height
    df = df.filter(pl.col("due_date").is_not_null())
    if undated:
        subtitle += f" · {undated} without a due date"
    if df.is_empty():
        return _empty_figure(title, "No milestone has a due date", subtitle)
    states = [milestone_state(s, d, as_of) for s, d in zip(df["status"].to_list(), df["due_date"].to_list())]
    df = df.with_columns(pl.Series("state", states))
    rows = list(dict.fromkeys(_plain(v) for v in df[by].to_list()))
    fig = go.Figure()
    extra = iter(_FALLBACK_COLORS * 8)
    ordered = [s for s in MILESTONE_STATUS_COLORS if s in set(states)] + sorted(set(states) - set(MILESTONE_STATUS_COLORS))
    for state in ordered:
        part = df.filter(pl.col("state") == state)
        name = booking_type_label(state)
        fig.add_scatter(
            x=[d.isoformat() for d in part["due_date"].to_list()],
            y=[_plain(v) for v in part[by].to_list()],
            mode="markers",
            name=name,
            marker={"size": 14, "color": MILESTONE_STATUS_COLORS.get(state) or next(extra),
                    "symbol": "diamond", "line": {"width": 1, "color": "#ffffff"}},
            customdata=[[_plain(t), _plain(p), booking_type_label(s)]
                        for t, p, s in zip(part["title"].to_list(), part["project"].to_list(), part["status"].to_list())],
            hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>due %{x|%Y-%m-%d} · %{customdata[2]}"
                          "<extra></extra>",
        )
    fig.add_vline(x=dt.datetime.combine(as_of, dt.time(), dt.timezone.utc).timestamp() * 1000, line_dash="dot",
                  line_color="#64748b", annotation_text="as of", annotation_position="top")
    return chart_layout(
        fig, title, subtitle,
        height=max(260, 120 + 40 * len(rows)),
        xaxis={"type": "date", "title": None},
        yaxis={"title": None, "type": "category", "categoryorder": "array", "categoryarray": rows[::-1],
               "automargin": True},
    )


# ------------------------------------------------------------------------ label dashboard

CANCELLATION_COLOR = "#dc2626"
OVERDUE_COLOR = "#dc2626"
AGING_COLOR = "#64748b"


def period_months(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of the months from ``first``'s month to ``last``'s month."""
    return _months(first.replace(day=1), last.replace(day=1))


def trend_window(monthly: Any, pipeline_after: Any, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """Months of the recognized-vs-pipeline chart: the period's, then only as far as the last
    month with pipeline revenue after it (no empty months past the pipeline)."""
    last = end.replace(day=1)
    after = _as_polars(pipeline_after)
    if not after.is_empty():
        with_pipeline = after.filter(pl.col("pipeline_revenue") != 0)
        if not with_pipeline.is_empty():
            last = max(last, with_pipeline["month"].max())
    return start.replace(day=1), last


def bookings_figure(frame: Any, first_month: dt.date, last_month: dt.date) -> go.Figure:
    """Bookings started per month (bars) and the cancellation rate (line, right axis)."""
    title = "Bookings and cancellation rate"
    df = _as_polars(frame)
    _require(df, ("month", "bookings", "cancelled_bookings"))
    months = _months(first_month, last_month)
    totals = (
        pl.DataFrame({"month": months}, schema={"month": pl.Date})
        .join(df.group_by("month").agg(pl.col("bookings").sum(), pl.col("cancelled_bookings").sum()),
              on="month", how="left")
        .with_columns(pl.col("bookings", "cancelled_bookings").fill_null(0))
        .sort("month")
    )
    if not totals["bookings"].sum():
        return _empty_figure(title, "No bookings in this period")
    rates = [None if not b else 100 * c / b for b, c in zip(totals["bookings"].to_list(),
                                                             totals["cancelled_bookings"].to_list())]
    fig = go.Figure()
    fig.add_bar(x=months, y=totals["bookings"].to_list(), name="Bookings", marker_color=RECOGNIZED_COLOR,
                hovertemplate="Bookings: %{y:,d}<extra></extra>")
    fig.add_scatter(x=months, y=rates, name="Cancellation rate", yaxis="y2", mode="lines+markers",
                    line={"color": CANCELLATION_COLOR}, hovertemplate="Cancelled: %{y:.1f}%<extra></extra>")
    _layout(fig, title, "Bookings", months)
    fig.update_layout(yaxis={"title": "Bookings", "tickformat": ",d"},
                      yaxis2={"title": "Cancelled (%)", "overlaying": "y", "side": "right", "rangemode": "tozero",
                              "ticksuffix": "%", "showgrid": False})
    return fig


def funnel_figure(frame: Any, measure: str = "bookings_90d") -> go.Figure:
    """How far bookings got, in funnel order (DRAFT → COMPLETED): each stage counts the bookings
    whose current status is that stage or a later one (a completed booking went through every
    stage), so each bar is at most the one above it; the exits (cancelled, dispute) in the title."""
    df = _as_polars(frame)
    _require(df, ("stage_order", "status", "is_funnel_stage", measure))
    df = df.sort("stage_order")
    stages, exits = df.filter(pl.col("is_funnel_stage")), df.filter(~pl.col("is_funnel_stage"))
    exit_text = ", ".join(f"{booking_type_label(s)} {n:,}" for s, n in zip(exits["status"].to_list(),
                                                                          exits[measure].to_list()))
    title, subtitle = "Booking funnel", (f"Exits: {exit_text}" if exit_text else None)
    if not df[measure].sum():
        return _empty_figure(title, "No bookings", subtitle)
    at_stage = stages[measure].to_list()
    reached = [sum(at_stage[position:]) for position in range(len(at_stage))]
    fig = go.Figure(go.Funnel(y=[booking_type_label(s) for s in stages["status"].to_list()],
                              x=reached, textinfo="value+percent initial",
                              customdata=at_stage, hovertemplate="%{y}: %{x:,} reached, %{customdata:,} there now"
                              "<extra></extra>",
                              marker={"color": RECOGNIZED_COLOR}))
    return chart_layout(fig, title, subtitle, height=380, legend=False)


def receivables_aging_figure(frame: Any, currency: str, over_90_text: str) -> go.Figure:
    """Outstanding revenue per age bucket (days since service); the 90+ bucket in red, its amount
    (``over_90_text``, already formatted) in the title."""
    df = _as_polars(frame)
    _require(df, ("bucket_order", "aging_bucket", "outstanding_revenue"))
    df = df.sort("bucket_order")
    title, subtitle = f"Receivables aging ({currency})", f"Outstanding over 90 days: {over_90_text}"
    if not df["outstanding_revenue"].abs().sum():
        return _empty_figure(title, "Nothing outstanding", subtitle)
    buckets = [f"{b} days" for b in df["aging_bucket"].to_list()]
    colors = [OVERDUE_COLOR if b == "90+" else AGING_COLOR for b in df["aging_bucket"].to_list()]
    fig = go.Figure()
    fig.add_bar(x=buckets, y=df["outstanding_revenue"].cast(pl.Float64).to_list(), marker_color=colors,
                hovertemplate=f"%{{x}}: %{{y:{money_format(currency)}}} {currency}<extra></extra>", name="Outstanding")
    return chart_layout(fig, title, subtitle, height=360, legend=False,
                        yaxis={"title": currency, "tickformat": ",.0f", "rangemode": "tozero"})


def project_status_figure(frame: Any) -> go.Figure:
    """Projects per status, the at-risk ones in red."""
    df = _as_polars(frame)
    _require(df, ("status", "projects", "at_risk"))
    title = "Projects by status"
    if df.is_empty() or not df["projects"].sum():
        return _empty_figure(title, "No projects")
    labels = [booking_type_label(s) for s in df["status"].to_list()]
    fig = go.Figure()
    fig.add_bar(x=labels, y=(df["projects"] - df["at_risk"]).to_list(), name="On track", marker_color=RECOGNIZED_COLOR)
    fig.add_bar(x=labels, y=df["at_risk"].to_list(), name="At risk", marker_color=OVERDUE_COLOR)
    return chart_layout(fig, title, barmode="stack", height=340,
                        yaxis={"title": "Projects", "tickformat": ",d", "rangemode": "tozero"})


def revenue_by_currency_figure(frame: Any, base_currency: str) -> go.Figure:
    """Recognized revenue by the bookings' original currency, in the base currency (horizontal bars);
    the original amount in the hover."""
    df = _as_polars(frame)
    _require(df, ("currency", "recognized_revenue", "recognized_revenue_original"))
    title, subtitle = f"Recognized revenue ({base_currency})", "By currency of origin"
    if df.is_empty() or not df["recognized_revenue"].abs().sum():
        return _empty_figure(title, "No recognized revenue in these months", subtitle)
    df = df.sort("recognized_revenue")
    fig = go.Figure()
    fig.add_bar(y=df["currency"].to_list(), x=df["recognized_revenue"].cast(pl.Float64).to_list(), orientation="h",
                marker_color=RECOGNIZED_COLOR, customdata=df["recognized_revenue_original"].cast(pl.Float64).to_list(),
                hovertemplate=f"%{{y}}: %{{x:{money_format(base_currency)}}} {base_currency} "
                              "(%{customdata:,.2f} %{y})<extra></extra>")
    return chart_layout(fig, title, subtitle, height=max(220, 120 + 40 * df.height), legend=False,
                        xaxis={"title": base_currency, "tickformat": ",.0f", "rangemode": "tozero"},
                        yaxis={"title": None, "type": "category"})


def top_performers_figure(frame: Any, currency: str, measure: str = "recognized_revenue") -> go.Figure:
    """Top performers as horizontal bars by stage name (rank 1 on top); each bar carries its
    artist id (customdata) so that a click can open the artist."""
    df = _as_polars(frame)
    _require(df, ("rank", "artist_id", "artist_label", measure))
    money = measure == "recognized_revenue"
    title = f"Top performers ({currency})" if money else "Top performers"
    subtitle = "By recognized revenue" if money else "By completed bookings"
    if df.is_empty():
        return _empty_figure(title, "No completed bookings in this period", subtitle)
    df = df.sort("rank")
    labels = [f"{r}. {_plain(name)}" for r, name in zip(df["rank"].to_list(), df["artist_label"].to_list())]
    fig = go.Figure()
    fig.add_bar(
        y=labels, x=df[measure].cast(pl.Float64).to_list(), orientation="h", marker_color=RECOGNIZED_COLOR,
        customdata=df["artist_id"].to_list(),
        hovertemplate=(f"%{{y}}: %{{x:{money_format(currency)}}} {currency}<extra></extra>" if money
                       else "%{y}: %{x:,d}<extra></extra>"),
    )
    return chart_layout(fig, title, subtitle, height=max(240, 100 + 34 * df.height), legend=False,
                        clickmode="event+select",
                        xaxis={"title": currency if money else "Completed bookings", "rangemode": "tozero",
                               "tickformat": ",.0f" if money else ",d"},
                        yaxis={"title": None, "type": "category", "categoryorder": "array",
                               "categoryarray": labels[::-1], "automargin": True})
