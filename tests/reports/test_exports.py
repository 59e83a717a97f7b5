"""Report exports over two published tenants: every format, the canary, formulas, the manifest,
XLSX formats, folders by tenant id, permissions."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from operational.permissions import Actor, PermissionDenied, command_line_operator as operator
from reports.export import (FORMATS, Branding, InvalidFormat, export_file, export_report, find_export, list_exports,
                            verify_export)
from reports.period import InvalidPeriod, resolve_period
from reports.render_pdf import find_chromium
from tests.conftest import skip_or_fail
from tests.reports.conftest import (ASCII_FORMULA, AT_FORMULA, CANARY_AMOUNT, CANARY_ARTIST, FULLWIDTH, MINUS_TEXT)

NOW = dt.datetime(2025, 3, 16, 7, 0, tzinfo=dt.timezone.utc)
ALL = ",".join(FORMATS)


def _needs_chromium():
    if find_chromium() is None:
        skip_or_fail("PDF export needs Chromium (/usr/bin/chromium)")


def _export(world, tenant, formats=ALL, **kwargs):
    return export_report(world.published_dir, world.exports_dir, tenant.tenant_id, actor=operator(tenant.tenant_id),
                         formats=formats, now=kwargs.pop("now", NOW), **kwargs)


def _xlsx_values(path: Path) -> list:
    book = openpyxl.load_workbook(path)
    return [cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def _text_of(path: Path) -> str:
    """Everything a reader of the file sees, as text (decoded per format)."""
    if path.suffix == ".xlsx":
        return "\n".join(str(v) for v in _xlsx_values(path) if v is not None)
    if path.suffix == ".parquet":
        return pl.read_parquet(path).write_csv() + " ".join(pl.read_parquet(path).columns)
    if path.suffix == ".pdf":
        return _pdf_text(path)
    return path.read_text(encoding="utf-8-sig")


@pytest.fixture(scope="module")
def both(report_world, tmp_path_factory):
    """Every format exported once for A and for B (module-wide: the PDF costs a browser run each)."""
    import dataclasses

    world = dataclasses.replace(report_world, exports_dir=tmp_path_factory.mktemp("exports"))
    formats = ALL if find_chromium() else "xlsx,html,csv,parquet"  # the canary test then asks for Chromium
    return world, _export(world, world.a, formats), _export(world, world.b, formats)


def test_two_tenant_canary_over_every_format(both):
    world, a, b = both
    canaries = (CANARY_ARTIST, str(CANARY_AMOUNT), f"{CANARY_AMOUNT:,}", world.b.tenant_id, world.b.name)
    for path in a.files:
        text = _text_of(path)
        assert text.strip(), path.name
        for canary in canaries:
            assert canary not in text, f"{canary!r} of tenant B in A's {path.name}"
    b_text = {p.suffix: _text_of(p) for p in b.files}
    for suffix in (".xlsx", ".html", ".csv", ".parquet"):  # B's own files do carry its canary
        assert any(CANARY_ARTIST in _text_of(p) for p in b.files if p.suffix == suffix), suffix
    assert "987,654.32" in b_text[".html"]
    _needs_chromium()  # the PDF: printed only where Chromium is
    assert sorted({e["format"] for e in a.manifest["files"]}) == sorted(FORMATS)
    assert world.a.name in _text_of(next(p for p in a.files if p.suffix == ".pdf"))  # the PDF's text was read
    assert CANARY_ARTIST in b_text[".pdf"] and "€987,654.32" in b_text[".pdf"]


def test_folders_are_keyed_by_tenant_id_with_an_atomic_manifest(both):
    world, a, b = both
    assert a.folder.parent.parent == world.exports_dir / world.a.tenant_id
    assert b.folder.parent.parent == world.exports_dir / world.b.tenant_id
    assert a.folder.parent.name == "2024-04_2025-03" and a.folder.name == "20250316T070000Z"
    assert sorted(p.name for p in world.exports_dir.iterdir()) == sorted([world.a.tenant_id, world.b.tenant_id])
    assert not list(world.exports_dir.rglob(".partial-*"))
    m = json.loads((a.folder / "manifest.json").read_text(encoding="utf-8"))
    assert (m["tenant_id"], m["tenant_name"], m["tenant_slug"]) == (world.a.tenant_id, world.a.name, world.a.slug)
    assert m["period"] == {"spec": "last-12-months", "label": "2024-04_2025-03", "first": "2024-04-01",
                           "last": "2025-03-15"}
    assert m["as_of"] == "2025-03-15" and m["generated_at"] == "2025-03-16T07:00:00+00:00"
    assert "definitions_version" in m and m["currency"] == "JPY"
    assert [f["currency"] for f in m["fx_dates_used"]] == ["USD"] and m["fx_dates_used"][0]["rate_date_to"]
    names = [f["file"] for f in m["files"]]
    assert "Revenue by month.csv" in names and "Top performers.parquet" in names
    assert "Aurora Reports report 2024-04_2025-03.xlsx" in names
    assert sorted(names + ["manifest.json"]) == sorted(p.name for p in a.folder.iterdir())


def test_manifest_checksums_and_row_counts_verify(both):
    world, a, _ = both
    assert verify_export(a.folder) == []
    for entry in a.manifest["files"]:
        path = a.folder / entry["file"]
        if entry["format"] == "csv":
            with open(path, newline="", encoding="utf-8-sig") as handle:
                assert sum(1 for _ in csv.reader(handle)) == entry["rows"] + 1
        elif entry["format"] == "parquet":
            assert pl.read_parquet(path).height == entry["rows"]
    tampered = a.folder / "Key figures.csv"
    original = tampered.read_bytes()
    try:
        tampered.write_bytes(original + b"x")
        assert verify_export(a.folder) == ["Key figures.csv: SHA-256 differs from the manifest"]
    finally:
        tampered.write_bytes(original)


def test_csv_is_utf8_with_bom_human_and_formula_safe(both):
    world, a, _ = both
    raw = (a.folder / "Project health.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["Project", "Status", "Budget (JPY)", "Spent (JPY)", "Budget used (%)", "Milestones",
                       "Milestones completed", "Milestones overdue", "At risk"]
    risky = rows[1]  # at risk first
    assert risky[0] == "'" + FULLWIDTH  # full-width ＝ neutralised
    assert risky[1:5] == ["In progress", "100000", "-5", "144.6"]  # JPY: no decimals; -5 stays a number
    assert risky[8] == "Yes" and rows[2][8] == "No"
    top = list(csv.reader(io.StringIO((a.folder / "Top performers.csv").read_text(encoding="utf-8-sig"))))
    assert [r[1] for r in top[1:]] == ["'" + FULLWIDTH, "'" + MINUS_TEXT, "Marisol Keys"]  # text "-5": prefixed
    assert [r[0] for r in top[1:]] == ["1", "2", "3"] and "art-a1" not in str(top)  # no internal ids
    activity = (a.folder / "Recent activity.csv").read_text(encoding="utf-8-sig")
    assert "Ada Aurora created booking" in activity and "0a2b2c3d" not in activity
    for text in (AT_FORMULA, ASCII_FORMULA):  # inside a sentence: not at the start, kept as is
        assert text in activity
    revenue = list(csv.reader(io.StringIO((a.folder / "Revenue by month.csv").read_text(encoding="utf-8-sig"))))
    months = [r[0] for r in revenue[1:]]
    assert months == sorted(months) and months[0] == "2024-04" and months[-1] == "2025-03"
    assert revenue[1][1] in ("Mixing", "Recording session")


def test_xlsx_has_currency_formats_frozen_headers_and_numbers(both):
    world, a, b = both
    path = next(p for p in a.files if p.suffix == ".xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["About", "Key figures", "Revenue by month", "Top performers", "Receivables aging",
                               "Project health", "Recent activity"]
    for name in book.sheetnames[1:]:
        sheet = book[name]
        assert sheet.freeze_panes == "A2", name
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:"), name
        assert sheet.column_dimensions["A"].width and sheet.column_dimensions["A"].width >= 8
        assert all(cell.font.bold for cell in sheet[1])
    projects = book["Project health"]
    header = [c.value for c in projects[1]]
    assert header[2] == "Budget (JPY)"
    risky = [c for c in projects[2]]
    assert risky[0].value == "'" + FULLWIDTH and risky[0].data_type == "s"
    assert risky[3].value == -5 and risky[3].data_type == "n"  # a negative amount stays a number
    assert "JPY" in risky[2].number_format and "0.00" not in risky[2].number_format  # JPY: no decimals
    assert risky[4].value == pytest.approx(1.446) and risky[4].number_format == "0.0%"
    assert risky[8].value == "Yes"
    top = book["Top performers"]
    assert [top.cell(row=r, column=2).value for r in (2, 3)] == ["'" + FULLWIDTH, "'" + MINUS_TEXT]
    assert top.cell(row=2, column=3).data_type == "n"
    kpis = book["Key figures"]
    assert kpis.cell(row=2, column=1).is_date and kpis.cell(row=2, column=1).value.date() == dt.date(2025, 3, 15)
    months = book["Revenue by month"]
    assert months.cell(row=2, column=1).number_format == "mmm yyyy"
    assert not any(isinstance(v, str) and v.startswith("=") for v in _xlsx_values(path))  # no formulas at all
    eur = openpyxl.load_workbook(next(p for p in b.files if p.suffix == ".xlsx"))["Top performers"]
    assert "EUR" in eur.cell(row=2, column=3).number_format and "0.00" in eur.cell(row=2, column=3).number_format
    assert eur.cell(row=2, column=3).value == pytest.approx(float(CANARY_AMOUNT))


def test_parquet_keeps_types(both):
    world, a, _ = both
    frame = pl.read_parquet(a.folder / "Project health.parquet")
    assert frame.schema["Spent (JPY)"] == pl.Decimal(18, 0) and frame["Spent (JPY)"][0] == Decimal("-5")
    assert frame["At risk"].to_list() == ["Yes", "No"]
    assert pl.read_parquet(a.folder / "Revenue by month.parquet").schema["Month"] == pl.Date


def test_html_is_self_contained_and_branded(report_world, tmp_path):
    import dataclasses

    world = dataclasses.replace(report_world, exports_dir=tmp_path)
    logo = "data:image/png;base64,iVBORw0KGgo="
    result = _export(world, world.a, formats="html", branding=Branding(name="Aurora Display", colour="#123456",
                                                                        logo=logo))
    html = result.files[0].read_text(encoding="utf-8")
    assert "Aurora Display" in html and "#123456" in html and logo in html
    assert html.count("plotly.js v") >= 1  # the library is inline: no script, style or image from elsewhere
    assert not re.search(r"<(script|img|link)[^>]+(src|href)=[\"']?(https?:)?//", html)
    assert 'id="chart-revenue_by_month"' in html and 'id="chart-top_performers"' in html
    assert "＝HYPERLINK(&quot;http://evil.example&quot;" in html  # escaped, shown as text


def test_ids_only_when_asked_and_sections_chosen(report_world, tmp_path):
    import dataclasses

    world = dataclasses.replace(report_world, exports_dir=tmp_path)
    result = _export(world, world.a, formats="csv", include_ids=True, sections="top_performers,kpis",
                     period="2025-Q1")
    assert [f["file"] for f in result.manifest["files"]] == ["Key figures.csv", "Top performers.csv"]
    assert result.folder.parent.name == "2025-Q1" and result.manifest["include_ids"] is True
    assert "Artist ID" in (result.folder / "Top performers.csv").read_text(encoding="utf-8-sig")
    again = _export(world, world.a, formats="csv", sections="kpis", period="2025-Q1")  # same second: its own folder
    assert again.folder != result.folder and again.folder.name == "20250316T070000Z-2"


def test_listing_finding_and_downloading_exports(report_world, tmp_path):
    import dataclasses

    world = dataclasses.replace(report_world, exports_dir=tmp_path)
    first = _export(world, world.a, formats="csv", sections="kpis")
    second = _export(world, world.a, formats="csv", sections="kpis", now=NOW + dt.timedelta(hours=1))
    _export(world, world.b, formats="csv", sections="kpis")
    (tmp_path / world.a.tenant_id / "2024-04_2025-03" / ".partial-x").mkdir()
    reader = Actor.of(user_id="u", tenant_id=world.a.tenant_id, role="LABEL_MANAGER")
    listed = list_exports(tmp_path, world.a.tenant_id, actor=reader)
    assert [e.folder for e in listed] == [second.folder, first.folder]
    found = find_export(tmp_path, world.a.tenant_id, f"{first.folder.parent.name}/{first.folder.name}", actor=reader)
    assert export_file(found, "Key figures.csv").is_file()
    for bad in ("../x/y", f"{first.folder.parent.name}/../../{world.b.tenant_id}", "a/b/c"):
        with pytest.raises(Exception):
            find_export(tmp_path, world.a.tenant_id, bad, actor=reader)
    with pytest.raises(Exception):
        export_file(found, "../manifest.json")
    with pytest.raises(PermissionDenied):
        list_exports(tmp_path, world.a.tenant_id, actor=Actor.of(user_id="u", tenant_id=world.a.tenant_id,
                                                                   role="VIEWER"))
    with pytest.raises(PermissionDenied):  # another tenant's folder
        list_exports(tmp_path, world.b.tenant_id, actor=reader)


def test_exports_ask_the_permission_module_before_touching_anything(report_world, tmp_path):
    tenant = report_world.a.tenant_id
    for actor in (Actor.of(user_id="u", tenant_id=tenant, role="VIEWER"),
                  Actor.of(user_id="u", tenant_id=tenant, role="ACCOUNTANT", permissions=["!reports:export"]),
                  operator(report_world.b.tenant_id)):
        with pytest.raises(PermissionDenied):
            export_report(report_world.published_dir, tmp_path / "exports", tenant, actor=actor)
    with pytest.raises(InvalidFormat):
        export_report(report_world.published_dir, tmp_path / "exports", tenant, actor=operator(tenant), formats="docx")
    with pytest.raises(InvalidPeriod):
        export_report(report_world.published_dir, tmp_path / "exports", tenant, actor=operator(tenant), period="soon")
    for bad_id in ("../" + report_world.b.tenant_id, ""):
        with pytest.raises(Exception):
            export_report(report_world.published_dir, tmp_path / "exports", bad_id, actor=operator(bad_id))
    assert not (tmp_path / "exports").exists()


def test_a_slug_change_keeps_tenants_folders_apart(report_world, tmp_path):
    """B takes the slug A had (A renamed or deleted): each export still lands in its tenant's id folder,
    A's earlier export is untouched, and nothing is keyed by the slug."""
    import dataclasses

    from tests.reports.conftest import publish

    world = dataclasses.replace(report_world, published_dir=tmp_path / "published", exports_dir=tmp_path / "exports")
    publish(world.published_dir, world.a)
    old_a = _export(world, world.a, formats="csv", sections="top_performers")
    before = {p: p.read_bytes() for p in (world.exports_dir / world.a.tenant_id).rglob("*") if p.is_file()}
    b_with_a_slug = dataclasses.replace(world.b, slug=world.a.slug)
    publish(world.published_dir, b_with_a_slug)
    new_b = _export(world, b_with_a_slug, formats="csv", sections="top_performers")
    assert new_b.manifest["tenant_slug"] == world.a.slug and new_b.manifest["tenant_id"] == world.b.tenant_id
    assert new_b.folder.is_relative_to(world.exports_dir / world.b.tenant_id)
    assert {p: p.read_bytes() for p in (world.exports_dir / world.a.tenant_id).rglob("*") if p.is_file()} == before
    assert CANARY_ARTIST not in "".join(p.read_text(encoding="utf-8-sig") for p in old_a.files)
    assert not (world.exports_dir / world.a.slug).exists()
    reader = operator(world.a.tenant_id)
    assert [e.folder for e in list_exports(world.exports_dir, world.a.tenant_id, actor=reader)] == [old_a.folder]


@pytest.mark.parametrize(("spec", "first", "last", "label"), [
    ("last-12-months", "2024-04-01", "2025-03-15", "2024-04_2025-03"),
    ("last-7-days", "2025-03-09", "2025-03-15", "20250309_20250315"),
    ("previous-month", "2025-02-01", "2025-02-28", "2025-02"),
    ("2024", "2024-01-01", "2024-12-31", "2024"),
    ("2024-q4", "2024-10-01", "2024-12-31", "2024-Q4"),
    ("2024-02", "2024-02-01", "2024-02-29", "2024-02"),
    ("2024-01-05..2024-02-10", "2024-01-05", "2024-02-10", "20240105_20240210"),
])
def test_periods(spec, first, last, label):
    period = resolve_period(spec, dt.date(2025, 3, 15))
    assert (period.first.isoformat(), period.last.isoformat(), period.label) == (first, last, label)


def test_concurrent_exports_in_one_second_get_their_own_folders(report_world, tmp_path):
    import dataclasses
    from concurrent.futures import ThreadPoolExecutor

    world = dataclasses.replace(report_world, exports_dir=tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _export(world, world.a, formats="csv", sections="kpis"), range(4)))
    folders = sorted(r.folder.name for r in results)
    assert folders == ["20250316T070000Z", "20250316T070000Z-2", "20250316T070000Z-3", "20250316T070000Z-4"]
    assert all(verify_export(r.folder) == [] for r in results)
