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
        (Decimal("99.5"), "CHF", "CHF 99.50"),
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
