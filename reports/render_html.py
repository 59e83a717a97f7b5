"""The report as one self-contained HTML file: tenant branding, Plotly charts inline, tables.

Readable offline: Plotly's JavaScript is embedded once (``include_plotlyjs=True`` on the first
chart), the logo only when it is an uploaded ``data:`` image (remote URLs are never fetched), no
other external resource. Every value from the data is HTML-escaped. The same file is what the
PDF renderer prints.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import plotly.graph_objects as go
import polars as pl

from reports.currency import format_money
from reports.sections import AGING, DATE, DATETIME, INT, MONEY, MONTH, PERCENT, REVENUE, TOP, Report, Section

DEFAULT_COLOUR = "#4f46e5"
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_LOGO = re.compile(r"^data:image/(png|jpeg);base64,[A-Za-z0-9+/=]+$")
_PALETTE = ("#0f766e", "#b45309", "#7c3aed", "#be123c", "#1d4ed8", "#4d7c0f", "#a16207", "#0e7490")


def _cell(value: Any, kind: str, currency: str) -> str:
    if value is None:
        return "—"
    if kind == MONEY:
        return format_money(value, currency)
    if kind == PERCENT:
        return f"{value:,.1f}%"
    if kind == INT:
        return f"{value:,}"
    if kind == MONTH and isinstance(value, dt.date):
        return f"{value:%b %Y}"
    if kind == DATE and isinstance(value, dt.date):
        return f"{value:%d %b %Y}"
    if kind == DATETIME and isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _table(section: Section, currency: str) -> str:
    head = "".join(f"<th class='{c.kind}'>{html.escape(c.name)}</th>" for c in section.columns)
    if not section.rows:
        return f"<p class='empty'>Nothing to show for this section.</p>"
    body = "\n".join(
        "<tr>" + "".join(f"<td class='{c.kind}'>{html.escape(_cell(v, c.kind, currency))}</td>"
                         for v, c in zip(row, section.columns)) + "</tr>"
        for row in section.frame.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi_cards(section: Section, currency: str) -> str:
    if not section.rows:
        return "<p class='empty'>No key figures in this snapshot.</p>"
    row = section.frame.row(0)
    cards = "".join(f"<div class='card'><div class='label'>{html.escape(c.name)}</div>"
                    f"<div class='value'>{html.escape(_cell(v, c.kind, currency))}</div></div>"
                    for v, c in zip(row, section.columns))
    return f"<div class='cards'>{cards}</div>"


def _layout(fig: go.Figure, title: str, colour: str) -> go.Figure:
    fig.update_layout(title={"text": title, "font": {"color": colour}}, template="plotly_white", height=380,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.15})
    return fig


def revenue_figure(section: Section, currency: str, colour: str) -> go.Figure | None:
    if not section.rows:
        return None
    frame = section.frame
    month, kind, recognized = frame.columns[0], frame.columns[1], f"Recognized revenue ({currency})"
    pipeline = f"Pipeline revenue ({currency})"
    fig = go.Figure()
    for i, booking_type in enumerate(sorted(set(frame[kind].drop_nulls().to_list()))):
        part = frame.filter(frame[kind] == booking_type)
        fig.add_bar(x=part[month].to_list(), y=[float(v or 0) for v in part[recognized].to_list()], name=booking_type,
                    marker_color=_PALETTE[i % len(_PALETTE)])
    totals = frame.group_by(month).agg(pl.col(pipeline).sum().alias("p")) if pipeline in frame.columns else None
    if totals is not None:
        totals = totals.sort(month)
        fig.add_scatter(x=totals[month].to_list(), y=[float(v or 0) for v in totals["p"].to_list()], name="Pipeline",
                        mode="lines+markers", line={"color": colour, "dash": "dot"})
    fig.update_layout(barmode="stack", yaxis_title=currency, xaxis={"tickformat": "%b %Y"})
    return _layout(fig, "Recognized revenue by month and booking type", colour)


def top_figure(section: Section, currency: str, colour: str) -> go.Figure | None:
    if not section.rows:
        return None
    frame = section.frame
    revenue = next(c for c in frame.columns if c.startswith("Recognized revenue"))
    fig = go.Figure(go.Bar(x=[float(v or 0) for v in frame[revenue].to_list()][::-1],
                           y=[f"{r}. {a}" for r, a in zip(frame["Rank"].to_list(), frame["Artist"].to_list())][::-1],
                           orientation="h", marker_color=colour))
    fig.update_layout(xaxis_title=currency)
    return _layout(fig, "Top performers, last 90 days", colour)


def aging_figure(section: Section, currency: str, colour: str) -> go.Figure | None:
    if not section.rows:
        return None
    frame = section.frame
    amount = frame.columns[2]
    fig = go.Figure(go.Bar(x=frame["Age"].to_list(), y=[float(v or 0) for v in frame[amount].to_list()],
                           marker_color=colour))
    fig.update_layout(yaxis_title=currency)
    return _layout(fig, "Receivables by age", colour)


_FIGURES = {REVENUE: revenue_figure, TOP: top_figure, AGING: aging_figure}


def render_html(report: Report, *, colour: str | None = None, logo: str | None = None) -> str:
    colour = colour if isinstance(colour, str) and _COLOUR.match(colour) else DEFAULT_COLOUR
    logo_html = (f"<img class='logo' alt='{html.escape(report.tenant_name)} logo' src='{logo}'>"
                 if isinstance(logo, str) and _LOGO.match(logo) else "")
    plotly_included = False
    parts = []
    for section in report.sections:
        block = [f"<section id='{section.key}'><h2>{html.escape(section.title)}</h2>",
                 f"<p class='description'>{html.escape(section.description)}</p>"]
        builder = _FIGURES.get(section.key)
        figure = builder(section, report.currency, colour) if builder else None
        if figure is not None:
            block.append("<div class='chart'>" + figure.to_html(
                full_html=False, include_plotlyjs=not plotly_included, div_id=f"chart-{section.key}",
                config={"displayModeBar": False, "responsive": True}) + "</div>")
            plotly_included = True
        block.append(_kpi_cards(section, report.currency) if section.key == "kpis" else _table(section, report.currency))
        block.append("</section>")
        parts.append("\n".join(block))
    fx = ", ".join(f"{e.get('currency')} ({e.get('rate_date_from')} – {e.get('rate_date_to')})"
                   for e in report.fx if isinstance(e, dict) and e.get("currency")) or "none"
    name = html.escape(report.tenant_name)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} · report {html.escape(report.period.describe())}</title>
<style>
:root {{ --brand: {colour}; }}
body {{ font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2937;
       margin: 0 auto; max-width: 1100px; padding: 24px; }}
header {{ display: flex; align-items: center; gap: 16px; border-bottom: 4px solid var(--brand); padding-bottom: 12px; }}
header .logo {{ max-height: 64px; max-width: 200px; }}
h1 {{ margin: 0; color: var(--brand); font-size: 1.7em; }}
h2 {{ color: var(--brand); border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; margin-top: 32px; }}
.meta, .description, footer {{ color: #6b7280; font-size: .9em; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }}
.card {{ border: 1px solid #e5e7eb; border-left: 4px solid var(--brand); border-radius: 6px; padding: 10px 12px; }}
.card .label {{ color: #6b7280; font-size: .8em; }} .card .value {{ font-size: 1.3em; font-weight: 600; }}
table {{ border-collapse: collapse; width: 100%; font-size: .88em; }}
th {{ background: var(--brand); color: #fff; text-align: left; padding: 6px 8px; }}
td {{ border-bottom: 1px solid #e5e7eb; padding: 5px 8px; vertical-align: top; }}
td.money, td.int, td.percent, th.money, th.int, th.percent {{ text-align: right; white-space: nowrap; }}
tbody tr:nth-child(even) {{ background: #f9fafb; }}
.chart {{ page-break-inside: avoid; }} section {{ page-break-inside: auto; }}
@media print {{ body {{ padding: 0; }} h2 {{ page-break-after: avoid; }} }}
</style></head>
<body>
<header>{logo_html}<div><h1>{name}</h1>
<div class="meta">Report for {html.escape(report.period.describe())} · as of {report.as_of:%d %b %Y} ·
amounts in {html.escape(report.currency)}</div></div></header>
{chr(10).join(parts)}
<footer><p>Generated {report.generated_at:%Y-%m-%d %H:%M} UTC from snapshot {html.escape(report.snapshot_version)}
(refreshed {html.escape(str(report.refreshed_at or '—'))}). Definitions version:
{html.escape(report.definitions_version or report.definitions_source)}. FX rate dates: {html.escape(fx)}.</p></footer>
</body></html>
"""
