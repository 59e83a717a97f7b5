"""Report exports: CSV files and a manifest per tenant, from its own snapshot only."""
from __future__ import annotations

import csv
import hashlib
import json

import pytest

from auditoryx.errors import AuditoryxError
from operational.permissions import command_line_operator as operator
from reports.csv_export import EXPORTED_MARTS, export_tenant_csv, neutralize
from tests.e2e.conftest import CANARY


def test_neutralize_formulas():
    assert neutralize('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert neutralize("-12") == "'-12" and neutralize("plain") == "plain" and neutralize(3) == 3


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


def test_exports_are_per_tenant_complete_and_idempotent(refreshed):
    settings, (tenant_a, tenant_b) = refreshed
    exports = settings.resolved_exports_dir
    a = export_tenant_csv(settings.published_dir, exports, tenant_a.id, tenant_a.slug, actor=operator(tenant_a.id))
    b = export_tenant_csv(settings.published_dir, exports, tenant_b.id, tenant_b.slug, actor=operator(tenant_b.id))
    assert a.folder.is_relative_to(exports / tenant_a.id) and b.folder.is_relative_to(exports / tenant_b.id)
    assert sorted(p.name for p in exports.iterdir()) == sorted([tenant_a.id, tenant_b.id])  # by id, not slug
    manifest = json.loads((a.folder / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["tenant_id"], manifest["tenant_slug"]) == (tenant_a.id, tenant_a.slug)  # slug: display only
    assert [f["file"] for f in manifest["files"]] == [f"{m}.csv" for m in EXPORTED_MARTS]
    for entry in manifest["files"]:
        data = (a.folder / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        with open(a.folder / entry["file"], newline="", encoding="utf-8") as handle:
            assert sum(1 for _ in csv.reader(handle)) == entry["rows"] + 1
    everything_a = "".join((a.folder / f["file"]).read_text(encoding="utf-8") for f in manifest["files"])
    assert CANARY not in everything_a and tenant_b.id not in everything_a
    assert CANARY in (b.folder / "top_performers.csv").read_text(encoding="utf-8")
    again = export_tenant_csv(settings.published_dir, exports, tenant_a.id, tenant_a.slug, actor=operator(tenant_a.id))
    assert again.folder == a.folder and again.manifest == a.manifest
    with pytest.raises(AuditoryxError):
        export_tenant_csv(settings.published_dir, exports, tenant_a.id, "../" + tenant_b.slug, actor=operator(tenant_a.id))
    with pytest.raises(AuditoryxError):  # A's snapshot under B's name
        export_tenant_csv(settings.published_dir, exports, tenant_a.id, tenant_b.slug, actor=operator(tenant_a.id))
    for bad_id in ("../" + tenant_b.id, "", tenant_a.id + "/.."):
        with pytest.raises(AuditoryxError):  # the id is validated before it becomes a folder
            export_tenant_csv(settings.published_dir, exports, bad_id, tenant_a.slug, actor=operator(bad_id))
    assert sorted(p.name for p in exports.iterdir()) == sorted([tenant_a.id, tenant_b.id])
