"""CSV and Parquet per section, for machines (and Excel: CSVs are UTF-8 with a BOM).

CSV cells: money as plain decimals in the tenant's minor units (``1234.50``, ``¥`` amounts without
decimals), percentages as numbers (``25.0`` under a ``(%)`` header), months ``YYYY-MM``, times
``YYYY-MM-DD HH:MM:SS`` (UTC), empty for none. Text that a spreadsheet would evaluate is
neutralised (:mod:`reports.safety`); numbers stay numbers (``-5`` is written ``-5``).
Parquet keeps the typed columns (DECIMAL money, DATE, TIMESTAMP WITH TIME ZONE) unchanged.
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from reports.safety import neutralize
from reports.sections import DATETIME, MONTH, PERCENT, TEXT, Section


def csv_cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == TEXT or isinstance(value, str):
        return neutralize(str(value))
    if kind == MONTH and isinstance(value, dt.date):
        return f"{value:%Y-%m}"
    if kind == DATETIME and isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if kind == PERCENT:
        return f"{value:.1f}"
    return str(value)


def write_csv(section: Section, path: Path) -> int:
    """The section as a CSV (UTF-8 with BOM, header row first); returns the number of data rows."""
    kinds = [c.kind for c in section.columns]
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([neutralize(c.name) for c in section.columns])
        for row in section.frame.iter_rows():
            writer.writerow([csv_cell(value, kind) for value, kind in zip(row, kinds)])
    return section.rows


def write_parquet(section: Section, path: Path) -> int:
    section.frame.write_parquet(path)
    return section.rows
