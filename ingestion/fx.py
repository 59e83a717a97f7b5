"""Which currencies the build can convert: those with rates in the FX seed.

A currency can be a valid ISO 4217 code (the product accepts it) and still have no rate in
``dbt_project/seeds/fx_rates.csv``: the build could not convert its amounts and its data test
(``assert_bookings_have_fx_rates``) would fail. Validation quarantines such bookings before the
build instead (file drops: :mod:`ingestion.files.validate`; operational rows:
:mod:`ingestion.operational_quarantine`), with a reason naming the currency.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

FX_SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "fx_rates.csv"


def currencies_in_seed(lines: Iterable[str]) -> frozenset[str]:
    """The distinct ``currency`` values of the FX seed's CSV lines (header first)."""
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or "currency" not in reader.fieldnames:
        raise ValueError("the FX seed has no 'currency' column")
    return frozenset(row["currency"].strip().upper() for row in reader if (row.get("currency") or "").strip())


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int, size: int) -> frozenset[str]:
    text = Path(path).read_text(encoding="utf-8")
    return currencies_in_seed(io.StringIO(text))


def fx_currencies(seed: Path = FX_SEED) -> frozenset[str]:
    """The currencies with at least one rate in ``seed`` (read once per file version)."""
    stat = Path(seed).stat()
    return _cached(str(seed), stat.st_mtime_ns, stat.st_size)
