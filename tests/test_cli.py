"""The `auditoryx` command: help everywhere, one-line errors, demo without the server."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

COMMANDS = ["init", "generate", "ingest", "refresh", "publish", "snapshot", "export", "landing", "sql", "serve", "demo",
            "users"]
AUDITORYX = str(Path(sys.executable).with_name("auditoryx"))


def run(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([AUDITORYX, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = run(command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_errors_are_one_line(app_env):
    run("init")
    result = run("snapshot", "--tenant", "no-such-tenant", "--out", str(app_env.resolved_var_dir / "x.duckdb"))
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no tenant with slug 'no-such-tenant'"
    result = run("sql", "--tenant", "Bad Slug!", "SELECT 1")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_demo_without_server_then_snapshot_and_sql(app_env, tmp_path):
    first = run("demo", "--no-serve", "--tenants", "2")
    assert first.returncode == 0, first.stderr
    assert "admin@northwind-records.example" in first.stdout
    again = run("demo", "--no-serve", "--tenants", "2")  # idempotent
    assert again.returncode == 0, again.stderr
    out = tmp_path / "aurora.duckdb"
    assert run("snapshot", "--tenant", "studio-aurora", "--out", str(out)).returncode == 0
    with duckdb.connect(str(out), read_only=True) as conn:
        slug, tenant_id = conn.execute("SELECT tenant_slug, tenant_id FROM main.meta").fetchone()
        assert slug == "studio-aurora"
        assert conn.execute("SELECT count(*) FROM marts.top_performers").fetchone()[0] > 0
    query = run("sql", "--tenant", "studio-aurora", "SELECT base_currency FROM kpi_summary")
    assert query.returncode == 0 and "EUR" in query.stdout
    refused = run("sql", "--tenant", "studio-aurora", "COPY kpi_summary TO 'leak.csv'")
    assert refused.returncode == 1 and "SELECT" in refused.stderr
    # landing and export folders are named by the tenant id; the slug only finds the tenant
    landing = run("landing", "--tenant", "studio-aurora")
    assert landing.returncode == 0, landing.stderr
    assert landing.stdout.strip() == str(app_env.resolved_landing_dir / tenant_id) and "bookings" in landing.stderr
    exported = run("export", "--tenant", "studio-aurora")
    assert exported.returncode == 0, exported.stderr
    manifests = list(app_env.resolved_exports_dir.glob("*/*/*/manifest.json"))
    assert [m.relative_to(app_env.resolved_exports_dir).parts[0] for m in manifests] == [tenant_id]
    assert str(manifests[0].parent) in exported.stdout
    assert run("landing", "--tenant", "no-such-tenant").returncode == 1

    pointers = {p.parent.name: p.read_text() for p in app_env.published_dir.glob("[!_]*/CURRENT")}
    assert run("ingest", "--tenant", "studio-aurora", "--full").returncode == 0
    assert run("publish", "--tenant", "studio-aurora").returncode == 0
    changed = {p.parent.name for p in app_env.published_dir.glob("[!_]*/CURRENT")
               if p.read_text() != pointers[p.parent.name]}
    assert len(changed) == 1  # only studio-aurora got a new version
