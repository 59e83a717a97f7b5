"""The report as an XLSX workbook (XlsxWriter): an "About" sheet, then one sheet per section.

Every section sheet has a bold header row that stays frozen, an autofilter, widths fitted to the
content, and number formats by kind: money in the tenant's currency with its minor units
(``[$EUR] #,##0.00``, ``[$JPY] #,##0``), percentages (``0.0%``), counts, dates and months.
Text is always written as text (never as a formula) and neutralised (:mod:`reports.safety`);
numbers are written as numbers, so ``-5`` stays the number -5.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from pathlib import Path
from typing import Any

import xlsxwriter

from reports.currency import xlsx_money_format
from reports.safety import neutralize
from reports.sections import DATE, DATETIME, INT, MONEY, MONTH, PERCENT, Report

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_MAX_WIDTH = 60


def sheet_name(title: str) -> str:
    return _SHEET_FORBIDDEN.sub(" ", title).strip()[:31] or "Sheet"


def _display_length(value: Any, kind: str) -> int:
    if value is None:
        return 0
    if kind == MONEY:
        return len(f"{float(value):,.2f}") + 5
    if kind in (DATE, MONTH):
        return 10
    if kind == DATETIME:
        return 16
    return len(str(value))


def write_xlsx(report: Report, path: Path, colour: str = "#4f46e5") -> dict[str, int]:
    """Write the workbook; returns rows per sheet (sections only)."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                               "strings_to_numbers": False, "remove_timezone": True})
    try:
        workbook.set_properties({"title": f"{report.tenant_name} report {report.period.label}",
                                 "company": report.tenant_name, "comments": "AuditoryX Analytics"})
        header = workbook.add_format({"bold": True, "font_color": "#ffffff", "bg_color": colour, "border": 1,
                                      "text_wrap": True, "valign": "top"})
        formats = {
            MONEY: workbook.add_format({"num_format": xlsx_money_format(report.currency)}),
            PERCENT: workbook.add_format({"num_format": "0.0%"}),
            INT: workbook.add_format({"num_format": "#,##0"}),
            DATE: workbook.add_format({"num_format": "yyyy-mm-dd"}),
            MONTH: workbook.add_format({"num_format": "mmm yyyy"}),
            DATETIME: workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        }
        bold = workbook.add_format({"bold": True})

        about = workbook.add_worksheet("About")
        about.set_column(0, 0, 22)
        about.set_column(1, 1, 60)
        details = [("Organization", report.tenant_name), ("Period", f"{report.period.describe()} ({report.period.spec})"),
                   ("As of", report.as_of.isoformat()), ("Currency", report.currency),
                   ("Generated at (UTC)", f"{report.generated_at:%Y-%m-%d %H:%M:%S}"),
                   ("Definitions version", report.definitions_version or report.definitions_source)]
        details += [(section.title, section.description) for section in report.sections]
        for row, (label, value) in enumerate(details):
            about.write_string(row, 0, neutralize(label), bold)
            about.write_string(row, 1, neutralize(str(value)))

        counts: dict[str, int] = {}
        for section in report.sections:
            sheet = workbook.add_worksheet(sheet_name(section.title))
            widths = [len(c.name) for c in section.columns]
            for col, column in enumerate(section.columns):
                sheet.write_string(0, col, neutralize(column.name), header)
            for r, values in enumerate(section.frame.iter_rows(), start=1):
                for col, (value, column) in enumerate(zip(values, section.columns)):
                    _write(sheet, r, col, value, column.kind, formats)
                    widths[col] = max(widths[col], _display_length(value, column.kind))
            for col, width in enumerate(widths):
                sheet.set_column(col, col, min(_MAX_WIDTH, max(8, width + 2)))
            sheet.set_row(0, 30)
            sheet.freeze_panes(1, 0)
            sheet.autofilter(0, 0, max(section.rows, 1), len(section.columns) - 1)
            counts[section.title] = section.rows
    finally:
        workbook.close()
    return counts


def _write(sheet, row: int, col: int, value: Any, kind: str, formats: dict[str, Any]) -> None:
    if value is None:
        sheet.write_blank(row, col, None)
    elif isinstance(value, str):
        sheet.write_string(row, col, neutralize(value))
    elif isinstance(value, bool):
        sheet.write_string(row, col, "Yes" if value else "No")
    elif isinstance(value, dt.datetime):
        moment = value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
        sheet.write_datetime(row, col, moment, formats[DATETIME])
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), formats.get(kind, formats[DATE]))
    elif isinstance(value, (int, float, decimal.Decimal)):
        number = float(value) / 100 if kind == PERCENT else float(value)
        sheet.write_number(row, col, number, formats.get(kind))
    else:
        sheet.write_string(row, col, neutralize(str(value)))
