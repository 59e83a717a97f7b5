"""formatting.py: money, percentages and captions as executives read them."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dashboards import formatting as f


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("12345.67"), "USD", "$12,345.67"),
        (Decimal("0.005"), "USD", "$0.01"),  # half up, exact decimal
        (Decimal("-1500"), "EUR", "-€1,500.00"),
        (Decimal("1234567.8"), "GBP", "£1,234,567.80"),
        (Decimal("99.5"), "CHF", "CHF99.50"),  # Babel's en_US pattern for a code without a symbol
        (Decimal("4848000.40"), "JPY", "¥4,848,000"),  # no minor unit: no decimals
        (Decimal("0.5"), "JPY", "¥1"),  # rounded half up to the yen
        (Decimal("12.5"), "XYZ", "XYZ12.50"),  # a code Babel does not know: 2 decimals, the code
        (Decimal("12.5"), "not a code", "12.50"),
        ("10.1", "usd", "$10.10"),
        (None, "USD", "—"),
    ],
)
def test_format_money(amount, currency, text):
    assert f.format_money(amount, currency) == text


@pytest.mark.parametrize(
    ("fraction", "text"),
    [
        (Decimal("0.2346"), "+23.5% vs prev"),
        (Decimal("-0.1"), "-10.0% vs prev"),
        (0.0, "0.0% vs prev"),
        (None, None),
    ],
)
def test_format_delta_pct(fraction, text):
    assert f.format_delta_pct(fraction, "vs prev") == text


def test_snapshot_caption_uses_utc():
    tz = dt.timezone(dt.timedelta(hours=2))
    meta = {"as_of": dt.date(2025, 3, 15), "refreshed_at": dt.datetime(2025, 3, 15, 8, 30, tzinfo=tz), "version": "v1"}
    assert f.snapshot_caption(meta) == "As of 2025-03-15 · refreshed 2025-03-15 06:30 UTC · version v1"


def test_md_escape_neutralises_markdown():
    assert f.md_escape("A*B_[x](y) $5 :red[z]") == r"A\*B\_\[x\](y) \$5 \:red\[z\]"


def test_kpi_windows_caption_matches_metrics_md():
    text = f.kpi_windows_caption(dt.date(2024, 3, 1))  # leap year: D−29 = 2024-02-01
    assert text == (
        "30d = 2024-02-01 – 2024-03-01 (prior 30d = 2024-01-02 – 2024-01-31) · "
        "MTD = 2024-03-01 – 2024-03-01 · outstanding = all time"
    )


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (Decimal("98765.43"), "EUR", "de_DE", "98.765,43\xa0€"),
        (Decimal("98765.43"), "EUR", "fr_FR", "98\u202f765,43\xa0€"),
        (Decimal("98765.43"), "EUR", "en_US", "€98,765.43"),
        (Decimal("4848000"), "JPY", "de_DE", "4.848.000\xa0¥"),
        (Decimal("12345.67"), "USD", "not-a-locale", "$12,345.67"),  # unknown locale: en_US
        (Decimal("12345.67"), "USD", None, "$12,345.67"),
    ],
)
def test_format_money_in_the_tenant_locale(amount, currency, locale, text):
    assert f.format_money(amount, currency, locale) == text


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (Decimal("1234567.89"), "USD", "en_US", "$1.2M"),
        (Decimal("48250.75"), "USD", "en_US", "$48.3K"),
        (Decimal("-48250.75"), "USD", "en_US", "-$48.3K"),
        (Decimal("4848000"), "JPY", "en_US", "¥4.8M"),
        (Decimal("1234567.89"), "EUR", "de_DE", "1,2\xa0Mio.\xa0€"),
        (Decimal("6008.76"), "USD", "de_DE", "6.008,76\xa0$"),  # no short form under 1 Mio. in German
        (Decimal("999.99"), "USD", "en_US", "$999.99"),  # under 1,000: in full
        (Decimal("999.5"), "JPY", "en_US", "¥1K"),  # rounded to the yen first (1,000), so compact
        (None, "USD", "en_US", "—"),
    ],
)
def test_format_money_compact(amount, currency, locale, text):
    assert f.format_money_compact(amount, currency, locale) == text


def test_money_card_gives_the_compact_text_and_the_full_value():
    assert f.money_card(Decimal("1234567.89"), "USD") == ("$1.2M", "$1,234,567.89")


@pytest.mark.parametrize(("currency", "digits"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("XYZ", 2), (None, 2)])
def test_minor_units_follow_iso_4217(currency, digits):
    assert f.minor_units(currency) == digits


@pytest.mark.parametrize(("value", "locale"), [("de_DE", "de_DE"), ("fr-FR", "fr_FR"), ("ja", "ja"), ("", "en_US"),
                                               (None, "en_US"), ("zz_ZZ", "en_US"), (42, "en_US")])
def test_tenant_locale_falls_back_to_en_us(value, locale):
    assert f.tenant_locale(value) == locale


def test_change_fraction_ratio_and_deltas_are_exact():
    assert f.change_fraction(Decimal("12345.67"), Decimal("10000.00")) == Decimal("0.234567")
    assert f.change_fraction(1, 0) is None and f.change_fraction(None, 5) is None
    assert f.ratio(1, 8) == Decimal("0.125") and f.ratio(3, 0) is None
    assert f.format_delta_points(Decimal("0.125"), Decimal("0.1"), "vs prior") == "+2.5 pp vs prior"
    assert f.format_delta_points(Decimal("0.1"), Decimal("0.1")) == "0.0 pp"
    assert f.format_delta_points(None, Decimal("0.1")) is None
    assert f.format_delta_count(7, 9, "vs last year") == "-2 vs last year"
    assert f.format_delta_count(5, 5) == "0"


def test_project_cell_puts_status_deadline_and_milestones_under_the_escaped_name():
    from dashboards.formatting import CELL_BREAK, project_cell

    cell = project_cell("Harbor <b>tour</b> *film*", "IN_PROGRESS", dt.date(2025, 3, 1), 0, 3, 2)
    assert cell.split(CELL_BREAK) == ["**Harbor \\<b\\>tour\\</b\\> \\*film\\***",
                                      "Due 2025-03-01 · In progress",
                                      "Milestones\\: 0 / 3 done, 2 overdue"]
    assert project_cell("EP", None, None, None, None, None).split(CELL_BREAK)[1:] == [
        "No deadline · —", "Milestones\\: 0 / 0 done"]


def test_budget_cell_in_the_tenants_locale_with_the_share_used():
    from babel.numbers import format_currency

    from dashboards.formatting import CELL_BREAK, budget_cell

    amount = Decimal("12345.5")
    german = format_currency(amount, "EUR", locale="de_DE", currency_digits=True)
    assert budget_cell(amount, 1.2345, "EUR", "de_DE") == f"{german}{CELL_BREAK}123% used"
    assert budget_cell(amount, 0.25, "USD") == f"\\$12,345.50{CELL_BREAK}25% used"  # $ escaped for Markdown
    yen = budget_cell(Decimal("5000"), None, "JPY", "ja_JP")  # no share known: the amount alone
    assert yen == format_currency(Decimal("5000"), "JPY", locale="ja_JP", currency_digits=True) and "." not in yen
    assert budget_cell(None, None, "USD") == "—"
