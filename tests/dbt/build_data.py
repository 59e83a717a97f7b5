"""Test data helpers for the dbt tests: a DuckDB build file with the raw tables of the ingestion contract
and hand-written rows, and the FX seed read in plain Python as an independent reference."""
from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb

from ingestion.raw_schema import RAW_TABLES, raw_table_name
from warehouse.build_db import ensure_raw_tables
from warehouse.dbt_runner import DBT_PROJECT_DIR

FX_SEED = DBT_PROJECT_DIR / "seeds" / "fx_rates.csv"
CENT = Decimal("0.01")


def _quote(identifier: str) -> str:
    # identifiers only ever come from RAW_TABLES (an allow-list), never from test data
    return '"' + identifier.replace('"', '""') + '"'


def create_build_db(path: Path, rows_by_table: dict[str, list[dict[str, Any]]]) -> Path:
    """Create the raw tables of the contract in a new DuckDB file and insert the given rows.

    Each row is a dict of column -> value; missing columns are NULL, dict/list values of JSON
    columns are serialized. Values are always bound parameters.
    """
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table, columns in RAW_TABLES.items():
            column_sql = ", ".join(f"{_quote(name)} {sql_type}" for name, sql_type in columns.items())
            con.execute(f"CREATE TABLE main.{_quote(raw_table_name(table))} ({column_sql})")
        ensure_raw_tables(con)  # and the (empty) raw_files_* tables of file drops
        for table, rows in rows_by_table.items():
            columns = RAW_TABLES[table]
            for row in rows:
                unknown = set(row) - set(columns)
                assert not unknown, f"{table}: unknown columns {unknown}"
            names = list(columns)
            placeholders = ", ".join("?" for _ in names)
            column_list = ", ".join(_quote(name) for name in names)
            values = [
                [
                    json.dumps(row[name]) if columns[name] == "JSON" and row.get(name) is not None
                    else row.get(name)
                    for name in names
                ]
                for row in rows
            ]
            if values:
                con.executemany(
                    f"INSERT INTO main.{_quote(raw_table_name(table))} ({column_list}) VALUES ({placeholders})",
                    values,
                )
    finally:
        con.close()
    return path


class FxReference:
    """The shipped fx_rates.csv read with csv + Decimal: an implementation independent of SQL."""

    def __init__(self, path: Path = FX_SEED) -> None:
        self._rates: dict[str, list[tuple[dt.date, Decimal, Decimal]]] = {}
        with path.open(newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                self._rates.setdefault(record["currency"], []).append(
                    (
                        dt.date.fromisoformat(record["rate_date"]),
                        Decimal(record["usd_per_unit"]),
                        Decimal(record["units_per_usd"]),
                    )
                )
        for series in self._rates.values():
            series.sort()

    def latest(self, currency: str, day: dt.date) -> tuple[dt.date, Decimal, Decimal]:
        """The row of `currency` with the latest rate_date on or before `day`."""
        candidates = [entry for entry in self._rates[currency] if entry[0] <= day]
        assert candidates, f"no {currency} rate on or before {day}"
        return candidates[-1]

    def convert(self, amount: Decimal, currency: str, base: str, day: dt.date) -> Decimal:
        """METRICS.md: round(amount × usd_per_unit(currency, d) × units_per_usd(base, d), 2),
        half away from zero, each currency with its own latest date on or before `day`."""
        if currency == base:
            return amount
        _, usd_per_unit, _ = self.latest(currency, day)
        _, _, units_per_usd = self.latest(base, day)
        return (amount * usd_per_unit * units_per_usd).quantize(CENT, rounding=ROUND_HALF_UP)

    def to_usd(self, amount: Decimal, currency: str, day: dt.date) -> Decimal:
        """round(amount × usd_per_unit(currency, d), 2), half away from zero (operator marts)."""
        if currency == "USD":
            return amount
        _, usd_per_unit, _ = self.latest(currency, day)
        return (amount * usd_per_unit).quantize(CENT, rounding=ROUND_HALF_UP)



def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.timezone.utc)
