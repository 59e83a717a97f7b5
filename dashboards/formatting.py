"""Pure text formatting for the dashboards (money, percentages, snapshot captions).

Money arrives as exact ``Decimal`` (DECIMAL(18,2) in the marts) and is only turned into text
here; no float ever touches an amount that is displayed as a number. Currencies are formatted
by Babel (CLDR data): the ISO 4217 minor units of the currency (yen without decimals) and the
tenant's locale (``en_US`` unless the organization's settings name another one).
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~$:])")

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


DEFAULT_LOCALE = "en_US"
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
COMPACT_FROM = decimal.Decimal(1000)  # smaller amounts are short enough in full
_DIGITS = re.compile(r"\D")


def tenant_locale(value: Any) -> str:
    """A CLDR locale name from an organization's settings (``de_DE``, ``fr-FR``, ``ja``), or
    ``en_US`` when it is missing or not a locale Babel knows."""
    from babel import Locale, UnknownLocaleError

    if not isinstance(value, str) or not value.strip():
        return DEFAULT_LOCALE
    try:
        return str(Locale.parse(value.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT_LOCALE


def currency_code(currency: Any) -> str | None:
    """The upper-cased ISO 4217 code, or None when ``currency`` is not three letters."""
    code = str(currency or "").strip().upper()
    return code if _CURRENCY_CODE.match(code) else None


def minor_units(currency: Any) -> int:
    """Decimals of the currency's minor unit (ISO 4217 via CLDR): 2 for USD/EUR, 0 for JPY;
    2 for a code Babel does not know."""
    from babel.numbers import get_currency_precision

    code = currency_code(currency)
    return get_currency_precision(code) if code else 2


def round_money(amount: Any, currency: Any) -> decimal.Decimal | None:
    """The amount rounded half away from zero to the currency's minor unit (exact decimal)."""
    value = _to_decimal(amount)
    if value is None:
        return None
    step = decimal.Decimal(1).scaleb(-minor_units(currency))
    return value.quantize(step, rounding=decimal.ROUND_HALF_UP)


def format_money(amount: Any, currency: str | None, locale: str = DEFAULT_LOCALE) -> str:
    """The full amount with its currency symbol in the locale's pattern: ``$12,345.67``,
    ``12.345,67 €`` (de_DE), ``¥4,848,000``; an unknown three-letter code is written as a code
    (``XYZ1.00``), anything else as a plain number; ``—`` for None."""
    from babel.numbers import format_currency, format_decimal

    value = round_money(amount, currency)
    if value is None:
        return NOT_AVAILABLE
    code = currency_code(currency)
    locale = tenant_locale(locale)
    if code is None:
        return format_decimal(value, format="#,##0.00", locale=locale)
    return format_currency(value, code, locale=locale, currency_digits=True)


def format_money_compact(amount: Any, currency: str | None, locale: str = DEFAULT_LOCALE) -> str:
    """A short form for KPI cards: ``$1.2M``, ``€48.3K``, ``1,2 Mio. €`` (de_DE); amounts under
    1,000 (in absolute value), and amounts the locale has no short form for (de_DE: ``6.008,76 $``),
    are shown in full (:func:`format_money`)."""
    from babel.numbers import format_compact_currency

    value = round_money(amount, currency)
    code = currency_code(currency)
    full = format_money(amount, currency, locale)
    if value is None or code is None or abs(value) < COMPACT_FROM:
        return full
    compact = format_compact_currency(value, code, locale=tenant_locale(locale), fraction_digits=1)
    # some locales have no short form at this size (de: under 1 Mio.): then the full amount
    return full if len(_DIGITS.sub("", compact)) >= len(_DIGITS.sub("", full)) else compact


def money_card(amount: Any, currency: str | None, locale: str = DEFAULT_LOCALE) -> tuple[str, str]:
    """(text on the card, full value for its help): the compact form and the full amount."""
    return format_money_compact(amount, currency, locale), format_money(amount, currency, locale)


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


def change_fraction(current: Any, previous: Any) -> decimal.Decimal | None:
    """``(current − previous) / previous`` in exact decimal; None when previous is 0 or unknown."""
    now, before = _to_decimal(current), _to_decimal(previous)
    if now is None or before is None or before == 0:
        return None
    return (now - before) / before


def ratio(numerator: Any, denominator: Any) -> decimal.Decimal | None:
    """``numerator / denominator`` in exact decimal (e.g. a cancellation rate); None when the
    denominator is 0 or unknown."""
    top, bottom = _to_decimal(numerator), _to_decimal(denominator)
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def format_delta_points(current: Any, previous: Any, suffix: str = "") -> str | None:
    """The change of a rate in percentage points: ``+2.5 pp vs …`` (None when either is None)."""
    now, before = _to_decimal(current), _to_decimal(previous)
    if now is None or before is None:
        return None
    points = ((now - before) * 100).quantize(decimal.Decimal("0.1"), rounding=decimal.ROUND_HALF_UP)
    text = "0.0 pp" if points == 0 else f"{points:+,.1f} pp"
    return f"{text} {suffix}".rstrip()


def format_delta_count(current: Any, previous: Any, suffix: str = "") -> str | None:
    """The change of a count: ``+3 vs …``, ``-1 vs …``, ``0 vs …`` (None when either is None)."""
    if current is None or previous is None:
        return None
    change = int(current) - int(previous)
    text = f"{change:+,d}" if change else "0"
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


# ------------------------------------------------------------ compact project health table cells
# st.table reads a cell as Markdown: two spaces and a newline break a line inside the cell, so a
# table of three columns carries what seven did and fits a 390 px phone (each part escaped).
CELL_BREAK = "  \n"


def project_cell(name: Any, status: Any, deadline: Any, done: Any, total: Any, overdue: Any) -> str:
    """The project's name in bold; its deadline and status; its milestones (Markdown, escaped):
    ``**Album**`` / ``Due 2025-09-30 · In progress`` / ``Milestones: 1 / 4 done``. The date opens its
    line, so that a narrow column wraps after it rather than at one of its hyphens."""
    due = f"Due {format_date(deadline)}" if deadline is not None else "No deadline"
    return CELL_BREAK.join([f"**{md_escape(name)}**", md_escape(f"{due} · {status_label(status)}"),
                            md_escape(f"Milestones: {milestones_cell(done, total, overdue)}")])


def budget_cell(budget: Any, used_fraction: Any, currency: str | None, locale: str = DEFAULT_LOCALE) -> str:
    """The budget in the tenant's locale with the share used under it (Markdown, escaped):
    ``$5,000.00`` / ``124% used``; the budget alone when the share is unknown."""
    amount = md_escape(format_money(budget, currency, locale))
    if used_fraction is None:
        return amount
    return f"{amount}{CELL_BREAK}{md_escape(format_pct(used_fraction))} used"

