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
