"""Pure text formatting for the dashboards (money, percentages, snapshot captions).

Money arrives as exact ``Decimal`` (DECIMAL(18,2) in the marts) and is only turned into text
here; no float ever touches an amount that is displayed as a number.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~$:])")
_CENT = decimal.Decimal("0.01")

NOT_AVAILABLE = "—"


def md_escape(text: Any) -> str:
    """Text safe to embed in Streamlit markdown (names come from user data)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _to_decimal(value: Any) -> decimal.Decimal | None:
    if value is None:
        return None
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    return decimal.Decimal(value)


def format_money(amount: Any, currency: str | None) -> str:
    """``$1,234.56`` for USD/EUR/GBP/JPY, ``CHF 1,234.56`` for other codes, ``—`` for None."""
    value = _to_decimal(amount)
    if value is None:
        return NOT_AVAILABLE
    value = value.quantize(_CENT, rounding=decimal.ROUND_HALF_UP)
    code = (currency or "").upper()
    sign = "-" if value < 0 else ""
    digits = f"{abs(value):,.2f}"
    symbol = _SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{code} {digits}".strip() if code else f"{sign}{digits}"


def format_count(value: Any) -> str:
    return NOT_AVAILABLE if value is None else f"{int(value):,}"


def format_delta_pct(fraction: Any, suffix: str = "") -> str | None:
    """``(last − prev) / prev`` as ``+12.3%`` (None stays None: no delta shown)."""
    value = _to_decimal(fraction)
    if value is None:
        return None
    pct = (value * 100).quantize(decimal.Decimal("0.1"), rounding=decimal.ROUND_HALF_UP)
    text = f"{pct:+,.1f}%"
    if pct == 0:
        text = "0.0%"
    return f"{text} {suffix}".rstrip()


def format_timestamp_utc(value: Any) -> str:
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def format_date(value: Any) -> str:
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def snapshot_caption(meta: dict[str, Any]) -> str:
    """``As of 2025-01-31 · refreshed 2025-01-31 06:00 UTC · version v…`` from the meta row."""
    return (
        f"As of {format_date(meta.get('as_of'))} · "
        f"refreshed {format_timestamp_utc(meta.get('refreshed_at'))} · "
        f"version {meta.get('version') or NOT_AVAILABLE}"
    )


def month_label(month: dt.date) -> str:
    return month.strftime("%B %Y")


def kpi_windows_caption(as_of: dt.date) -> str:
    """The exact date windows behind the KPI cards (METRICS.md, "KPI windows")."""
    last = (as_of - dt.timedelta(days=29), as_of)
    prev = (as_of - dt.timedelta(days=59), as_of - dt.timedelta(days=30))
    return (
        f"30d = {last[0].isoformat()} – {last[1].isoformat()} "
        f"(prior 30d = {prev[0].isoformat()} – {prev[1].isoformat()}) · "
        f"MTD = {as_of.replace(day=1).isoformat()} – {as_of.isoformat()} · "
        "outstanding = all time"
    )


# ------------------------------------------------------------------ projects and data quality


def status_label(status: Any) -> str:
    """``IN_PROGRESS`` → ``In progress`` (``—`` for None)."""
    if status is None or str(status) == "":
        return NOT_AVAILABLE
    return str(status).replace("_", " ").capitalize()


def format_pct(fraction: Any, decimals: int = 0) -> str:
    """A fraction as a percentage: ``0.25`` → ``25%``, ``1.4460`` → ``145%`` (``—`` for None)."""
    value = _to_decimal(fraction)
    if value is None:
        return NOT_AVAILABLE
    step = decimal.Decimal(1).scaleb(-decimals)
    pct = (value * 100).quantize(step, rounding=decimal.ROUND_HALF_UP)
    return f"{pct:,.{decimals}f}%"


def milestones_progress(done: Any, total: Any) -> str:
    """``1 / 4`` milestones done (``0 / 0`` when the project has none)."""
    return f"{format_count(done or 0)} / {format_count(total or 0)}"


def risk_reasons(is_over_budget: Any, is_past_deadline: Any, milestones_overdue: Any) -> list[str]:
    """Why a project is at risk (METRICS.md): the three rules, in a fixed order; [] when none holds."""
    reasons = []
    if is_over_budget:
        reasons.append("over budget")
    if is_past_deadline:
        reasons.append("past deadline")
    overdue = int(milestones_overdue or 0)
    if overdue:
        reasons.append(f"{overdue} overdue milestone{'s' if overdue != 1 else ''}")
    return reasons


def milestones_cell(done: Any, total: Any, overdue: Any) -> str:
    """``1 / 4 done`` or ``0 / 3 done, 2 overdue`` (one table cell)."""
    overdue = int(overdue or 0)
    return f"{milestones_progress(done, total)} done" + (f", {format_count(overdue)} overdue" if overdue else "")


def risk_cell(is_at_risk: Any, reasons: list[str]) -> str:
    """The at-risk flag with its reasons in one table cell: ``Yes: over budget, …`` or ``No``."""
    if not is_at_risk:
        return "No"
    return f"Yes: {', '.join(reasons)}" if reasons else "Yes"


def format_local_time(moment: Any, tz_name: str | None) -> str:
    """An aware (or UTC-naive) datetime in the IANA zone ``tz_name``: ``2025-03-15 07:30 CET
    (Europe/Paris)``; an unknown zone falls back to UTC."""
    import zoneinfo

    if moment is None:
        return NOT_AVAILABLE
    if not isinstance(moment, dt.datetime):
        return str(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    try:
        zone = zoneinfo.ZoneInfo(str(tz_name or "UTC"))
        name = str(tz_name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone, name = zoneinfo.ZoneInfo("UTC"), "UTC"
    local = moment.astimezone(zone)
    abbreviation = local.tzname() or ""
    suffix = "UTC" if name == "UTC" else f"{abbreviation} ({name})" if abbreviation and abbreviation != name else name
    return f"{local:%Y-%m-%d %H:%M} {suffix}"


def snapshot_age(refreshed_at: Any, now: dt.datetime) -> dt.timedelta | None:
    """How old a snapshot is at ``now`` (aware datetimes; naive ones are read as UTC)."""
    if not isinstance(refreshed_at, dt.datetime):
        return None
    if refreshed_at.tzinfo is None:
        refreshed_at = refreshed_at.replace(tzinfo=dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return now - refreshed_at


def is_stale(refreshed_at: Any, now: dt.datetime, freshness_hours: float) -> bool:
    """True when the snapshot is older than the freshness threshold (or its refresh time is unknown)."""
    age = snapshot_age(refreshed_at, now)
    return age is None or age > dt.timedelta(hours=float(freshness_hours))


def format_age(age: dt.timedelta | None) -> str:
    """``45 minutes``, ``5 hours``, ``3 days`` (rounded down; ``—`` for None)."""
    if age is None:
        return NOT_AVAILABLE
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hours"
    return f"{format_count(hours // 24)} days"


def source_label(table: str) -> str:
    """``project_milestones`` → ``Project milestones``."""
    return str(table).replace("_", " ").capitalize()
