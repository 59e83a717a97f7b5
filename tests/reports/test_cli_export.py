"""`auditoryx export --tenant SLUG --format … --period …` (in process)."""
from __future__ import annotations

import json
import sys

import pytest


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from auditoryx.cli import main

    monkeypatch.setattr(sys, "argv", ["auditoryx", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_command_writes_the_chosen_formats(world_env, monkeypatch, capsys):
    code, out, err = _main(monkeypatch, capsys, "export", "--tenant", world_env.a.slug, "--format", "xlsx,csv,parquet",
                           "--period", "2025-Q1", "--sections", "kpis,top_performers")
    assert code == 0, err
    manifests = list(world_env.exports_dir.glob("*/*/*/manifest.json"))
    assert [m.relative_to(world_env.exports_dir).parts[:2] for m in manifests] == [(world_env.a.tenant_id, "2025-Q1")]
    assert str(manifests[0].parent) in out and "Top performers.parquet" in err
    manifest = json.loads(manifests[0].read_text(encoding="utf-8"))
    assert [f["file"] for f in manifest["files"]] == [
        "Aurora Reports report 2025-Q1.xlsx", "Key figures.csv", "Top performers.csv", "Key figures.parquet",
        "Top performers.parquet"]
    assert manifest["tenant_name"] == world_env.a.name  # the organization's display name


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "docx"], "unknown export format 'docx'"),
    (["--period", "someday"], "invalid period 'someday'"),
    (["--sections", "gossip"], "unknown report section 'gossip'"),
])
def test_export_command_refuses_bad_options_in_one_line(world_env, monkeypatch, capsys, args, message):
    code, _, err = _main(monkeypatch, capsys, "export", "--tenant", world_env.a.slug, *args)
    assert code == 1 and err.startswith("error: " + message) and len(err.strip().splitlines()) == 1
    assert not world_env.exports_dir.exists()


def test_pdf_without_chromium_says_so(world_env, monkeypatch, capsys):
    monkeypatch.setenv("AUDITORYX_CHROMIUM", str(world_env.root / "no-such-browser"))
    code, _, err = _main(monkeypatch, capsys, "export", "--tenant", world_env.a.slug, "--format", "pdf")
    assert code == 1 and "PDF export needs headless Chromium" in err
    assert not list(world_env.exports_dir.glob("*/*/*/manifest.json"))  # no half export left behind
    assert not list(world_env.exports_dir.rglob(".partial-*"))
