"""The `auditoryx` command: help everywhere, one-line errors, demo without the server."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

COMMANDS = ["init", "generate", "ingest", "refresh", "publish", "snapshot", "export", "landing", "sql", "tables", "serve",
            "demo", "users", "tenants", "worker", "deliver", "api", "api-keys"]
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
    # a person reads it: progress lines and one login per role, dbt's own log in a file
    assert "Running with dbt" not in first.stdout + first.stderr
    assert (app_env.dbt_work_dir / "logs" / "dbt.log").read_text().count("Running with dbt") >= 1
    assert len((first.stdout + first.stderr).splitlines()) < 60
    assert "viewer" in first.stdout and "accountant" in first.stdout and "creator" in first.stdout
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
    checks = {p.parent.name: p.read_text() for p in app_env.published_dir.glob("[!_]*/CHECKED_AT")}
    assert run("ingest", "--tenant", "studio-aurora", "--full").returncode == 0
    assert run("publish", "--tenant", "studio-aurora").returncode == 0
    changed = {p.parent.name for p in app_env.published_dir.glob("[!_]*/CURRENT")
               if p.read_text() != pointers[p.parent.name]}
    assert changed == set()  # the marts did not change: every version kept (issue 18)
    rechecked = {p.parent.name for p in app_env.published_dir.glob("[!_]*/CHECKED_AT")
                 if p.read_text() != checks[p.parent.name]}
    assert len(rechecked) == 1  # only studio-aurora was checked again


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run `auditoryx ARGS` in this process (so tests can monkeypatch); (exit code, stderr)."""
    from auditoryx.cli import main

    monkeypatch.setattr(sys, "argv", ["auditoryx", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["sql", "--tenant", "acme", "SELECT 1"], ["export", "--tenant", "acme"],
    ["snapshot", "--tenant", "acme", "--out", "OUT"], ["refresh"], ["ingest"], ["refresh", "--tenant", "acme"],
    ["landing", "--tenant", "acme"],
])
def test_before_init_one_line_and_nothing_created(app_env, tmp_path, args):
    out = tmp_path / "out.duckdb"
    result = run(*[str(out) if a == "OUT" else a for a in args])
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the operational database has no schema yet: "
                                                   "run `auditoryx init`"), result.stderr
    assert not app_env.resolved_var_dir.exists() and not out.exists()


def test_schema_less_database_is_refused(app_env):
    app_env.resolved_var_dir.mkdir(parents=True)
    Path(app_env.operational_database_url.removeprefix("sqlite:///")).touch()  # an empty SQLite file
    result = run("export", "--tenant", "acme")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: the operational database has no schema yet: run `auditoryx init`"
    publish = run("publish")
    assert publish.returncode == 1 and "nothing ingested yet" in publish.stderr
    assert not app_env.build_database_path.exists()


def test_bad_setting_is_one_line_naming_the_variable():
    result = run("refresh", env={"AUDITORYX_AS_OF": "2026-13-45"})
    assert result.returncode == 1
    assert result.stderr.strip() == "error: AUDITORYX_AS_OF='2026-13-45': not a date (YYYY-MM-DD)"


def test_full_disk_during_ingest_names_the_cause(app_env, monkeypatch, capsys):
    """A write failing inside the extraction transaction (DuckDB then aborts it, so ROLLBACK fails
    with 'no transaction is active'): the CLI prints the real cause."""
    import errno

    import ingestion.extract

    assert run("init").returncode == 0

    def full_disk(conn, *args):
        conn.execute("ROLLBACK")  # what DuckDB does itself when a write fails
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ingestion.extract, "_advance_watermarks", full_disk)
    code, err = _main(monkeypatch, capsys, "ingest")
    assert code == 1
    assert err.strip().splitlines()[-1] == "error: OSError: [Errno 28] No space left on device"
    assert "TransactionException" not in err


def test_refresh_without_tenants_and_rejected_files(app_env):
    assert run("init").returncode == 0
    empty = run("refresh")
    assert empty.returncode == 0, empty.stderr
    assert "nothing to refresh: no tenants" in empty.stderr
    # a file dropped for a tenant that does not exist is rejected: the command says so and fails
    drop = app_env.resolved_landing_dir / "t_gone" / "bookings" / "b.csv"
    drop.parent.mkdir(parents=True)
    drop.write_text("id\n1\n")
    ingest = run("ingest")
    assert ingest.returncode == 1
    lines = ingest.stderr.strip().splitlines()
    assert any(line.startswith("rejected: file:t_gone/bookings/b.csv: unknown tenant 't_gone'") for line in lines), lines
    assert lines[-1] == "error: 1 of 1 dropped files not loaded (1 rejected, 0 failed): see above"
    drop.parent.mkdir(parents=True, exist_ok=True)
    drop.write_text("id\n2\n")  # the first one went to the archive; a new one is rejected by refresh too
    refresh = run("refresh")
    assert refresh.returncode == 1
    assert "rejected: file:t_gone/bookings/b.csv" in refresh.stderr
    assert refresh.stderr.strip().splitlines()[-1].startswith("error: 1 of 1 dropped files not loaded")
