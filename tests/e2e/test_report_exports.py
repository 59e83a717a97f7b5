"""Report exports over a real refresh (dbt marts): per tenant, complete, human, and B's canary
never in A's files. (The format details are tested in tests/reports on a small snapshot.)"""
from __future__ import annotations

import csv
import hashlib
import json

import polars as pl
import pytest

from operational.permissions import command_line_operator as operator
from reports.csv_export import export_tenant_csv, neutralize
from reports.export import export_report, verify_export
from tests.e2e.conftest import CANARY


def test_neutralize_formulas():
    assert neutralize('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert neutralize("-12") == "'-12" and neutralize("plain") == "plain" and neutralize(-12) == -12
    assert neutralize("＝1+1") == "'＝1+1"


def test_exports_ask_the_permission_module(tmp_path):
    """Checked before any path or snapshot is touched: a role without reports:export, or an
    actor of another tenant, is refused."""
    from operational.permissions import Actor, PermissionDenied

    tenant = "0a1b2c3d-aaaa-4000-8000-00000000000a"
    for actor in (Actor.of(user_id="u", tenant_id=tenant, role="VIEWER"),
                  Actor.of(user_id="u", tenant_id=tenant, role="ACCOUNTANT", permissions=["!reports:export"]),
                  operator("0b1b2c3d-bbbb-4000-8000-00000000000b")):
        with pytest.raises(PermissionDenied):
            export_tenant_csv(tmp_path / "published", tmp_path / "exports", tenant, "aurora", actor=actor)
    assert not (tmp_path / "exports").exists()


def test_exports_of_real_marts_are_per_tenant_and_complete(refreshed):
    settings, (tenant_a, tenant_b) = refreshed
    exports = settings.resolved_exports_dir
    a = export_report(settings.published_dir, exports, tenant_a.id, actor=operator(tenant_a.id),
                      formats="xlsx,html,csv,parquet")
    b = export_tenant_csv(settings.published_dir, exports, tenant_b.id, tenant_b.slug, actor=operator(tenant_b.id))
    assert a.folder.is_relative_to(exports / tenant_a.id) and b.folder.is_relative_to(exports / tenant_b.id)
    assert sorted(p.name for p in exports.iterdir()) == sorted([tenant_a.id, tenant_b.id])  # by id, not slug
    manifest = json.loads((a.folder / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["tenant_id"], manifest["tenant_slug"]) == (tenant_a.id, tenant_a.slug)  # slug: display only
    from warehouse.dbt_runner import DBT_PROJECT_DIR
    from warehouse.definitions import definitions_version

    assert manifest["definitions_version"] == definitions_version(DBT_PROJECT_DIR)  # recorded by the publish
    assert manifest["definitions_source"] == "snapshot meta"
    assert verify_export(a.folder) == []
    for entry in manifest["files"]:
        assert hashlib.sha256((a.folder / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        if entry["format"] == "csv":
            with open(a.folder / entry["file"], newline="", encoding="utf-8-sig") as handle:
                assert sum(1 for _ in csv.reader(handle)) == entry["rows"] + 1
    sections = {s["key"]: s["rows"] for s in manifest["sections"]}
    assert sections["kpis"] == 1 and sections["receivables_aging"] == 4 and sections["revenue_by_month"] > 0
    assert sections["top_performers"] > 0
    top = list(csv.reader(open(a.folder / "Top performers.csv", newline="", encoding="utf-8-sig")))
    assert top[0][:2] == ["Rank", "Artist"] and [int(r[0]) for r in top[1:]] == list(range(1, len(top)))
    text_a = "".join((a.folder / f["file"]).read_text(encoding="utf-8-sig") for f in manifest["files"]
                     if f["format"] in ("csv", "html"))
    text_a += "".join(pl.read_parquet(a.folder / f["file"]).write_csv() for f in manifest["files"]
                      if f["format"] == "parquet")
    assert CANARY not in text_a and tenant_b.id not in text_a and tenant_a.id not in text_a  # no ids by default
    assert CANARY in (b.folder / "Top performers.csv").read_text(encoding="utf-8-sig")
