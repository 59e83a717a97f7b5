"""Generate the FX rates seed ``dbt_project/seeds/fx_rates.csv``.

Deterministic (fixed seed): running it twice gives the same file byte for byte. The rates are a
plausible random walk, not market data: a mean-reverting walk in log space around a level that
moves linearly from a realistic 2022 value to a realistic 2028 value, one row per currency and
business day (Monday to Friday) from 2022-01-01 to 2028-12-31. USD rows are exactly 1.

Columns: ``rate_date, currency, usd_per_unit, units_per_usd``, each rate with at most 8
decimals, ``units_per_usd = round(1 / usd_per_unit, 8)`` (half away from zero), computed from the
already rounded ``usd_per_unit`` with exact decimal arithmetic so that conversions need no
division. Users may replace the file with real rates in the same shape.

Usage: ``python scripts/make_fx_seed.py [--output PATH]``
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SEED = 20220103
START = dt.date(2022, 1, 1)
END = dt.date(2028, 12, 31)
EIGHT_DECIMALS = Decimal("0.00000001")
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "fx_rates.csv"

# currency: (units per USD at the start, units per USD at the end, daily volatility)
CURRENCIES: dict[str, tuple[float, float, float]] = {
    "AUD": (1.38, 1.52, 0.0060),
    "BRL": (5.60, 5.40, 0.0090),
    "CAD": (1.27, 1.36, 0.0040),
    "CHF": (0.92, 0.88, 0.0045),
    "EUR": (0.88, 0.91, 0.0045),
    "GBP": (0.74, 0.78, 0.0050),
    "INR": (74.5, 86.0, 0.0030),
    "JPY": (115.0, 148.0, 0.0055),
    "KRW": (1190.0, 1360.0, 0.0050),
    "MXN": (20.5, 18.5, 0.0075),
    "NGN": (415.0, 1550.0, 0.0080),
    "SEK": (9.05, 10.40, 0.0060),
    "USD": (1.0, 1.0, 0.0),
    "ZAR": (15.9, 18.3, 0.0085),
}
MEAN_REVERSION = 0.02  # share of the gap to the trend level closed each business day


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    days = []
    day = start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def round8(value: Decimal) -> Decimal:
    return value.quantize(EIGHT_DECIMALS, rounding=ROUND_HALF_UP)


def rate_rows(days: list[dt.date]) -> list[tuple[dt.date, str, Decimal, Decimal]]:
    rng = random.Random(SEED)
    rows: list[tuple[dt.date, str, Decimal, Decimal]] = []
    last = len(days) - 1
    for currency, (start_level, end_level, volatility) in CURRENCIES.items():
        log_start, log_end = math.log(start_level), math.log(end_level)
        deviation = 0.0  # log distance of the walk from its trend level
        for index, day in enumerate(days):
            if currency == "USD":
                rows.append((day, currency, round8(Decimal(1)), round8(Decimal(1))))
                continue
            deviation = (1 - MEAN_REVERSION) * deviation + rng.gauss(0.0, volatility)
            trend = log_start + (log_end - log_start) * index / last
            units_per_usd_raw = math.exp(trend + deviation)
            usd_per_unit = round8(Decimal(repr(1.0 / units_per_usd_raw)))
            units_per_usd = round8(Decimal(1) / usd_per_unit)
            rows.append((day, currency, usd_per_unit, units_per_usd))
    rows.sort(key=lambda row: (row[0], row[1]))
    return rows


def write_csv(path: Path, rows: list[tuple[dt.date, str, Decimal, Decimal]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["rate_date", "currency", "usd_per_unit", "units_per_usd"])
        for day, currency, usd_per_unit, units_per_usd in rows:
            writer.writerow([day.isoformat(), currency, f"{usd_per_unit:f}", f"{units_per_usd:f}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    rows = rate_rows(business_days(START, END))
    write_csv(args.output, rows)
    print(f"wrote {len(rows)} rows to {args.output}")


if __name__ == "__main__":
    main()
