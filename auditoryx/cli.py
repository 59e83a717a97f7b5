"""The `auditoryx` command: set up, generate, refresh, publish, query and serve."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import click
import typer

from auditoryx.cli_api import api, api_keys_app
from auditoryx.cli_deliver import deliver
from auditoryx.cli_sql import sql, tables
from auditoryx.cli_tenants import tenants_app
from auditoryx.cli_users import users_app
from auditoryx.errors import AuditoryxError, NotInitialized
from auditoryx.settings import PROJECT_ROOT, Settings, get_settings

app = typer.Typer(
    help="AuditoryX Analytics: multi-tenant analytics for labels, studios and agencies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.add_typer(users_app, name="users")
app.add_typer(tenants_app, name="tenants")
app.add_typer(api_keys_app, name="api-keys")
app.command("api")(api)  # auditoryx/cli_api.py: uvicorn on port 8000
app.command("deliver")(deliver)  # auditoryx/cli_deliver.py: the outbox (webhooks, e-mail)


class _Progress:
    """Prints each step with the time elapsed since the command started."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        typer.echo(f"[{time.monotonic() - self.started:6.1f}s] {message}", err=True)


def _engine(settings: Settings):
    from operational.db import make_engine

    return make_engine(settings.operational_database_url)


NO_SCHEMA = "the operational database has no schema yet: run `auditoryx init`"


def _require_schema(settings: Settings) -> None:
    """Refuse, creating nothing, when `auditoryx init` has not run: a missing SQLite file is never
    created here (make_engine would), and a database without the tables is refused."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    url = make_url(settings.operational_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).is_file():
        raise NotInitialized(f"{NO_SCHEMA} (no file {url.database})")
    engine = _engine(settings)
    try:
        if not inspect(engine).has_table("organizations"):
            raise NotInitialized(NO_SCHEMA)
    finally:
        engine.dispose()


def _require_build_database(settings: Settings) -> None:
    if not settings.build_database_path.is_file():
        raise NotInitialized(f"nothing ingested yet (no {settings.build_database_path}): "
                             "run `auditoryx refresh` or `auditoryx ingest` first")


def _file_drop_problems(drops, failed_tenants: dict[str, list[str]] | None = None) -> None:
    """List the dropped files that were not loaded (rejected, or failed) and the tenants whose
    build failed (they keep their last version) with their reasons, and fail the command (exit 1)
    when there is any."""
    failed = [f for f in drops.files if f.status in ("rejected", "error")]
    for result in failed:
        typer.echo(f"{result.status}: {result.source}: {result.error or result.notes or 'no reason given'}", err=True)
    for tenant_id, reasons in sorted((failed_tenants or {}).items()):
        typer.echo(f"failed tenant {tenant_id} (keeps its last version): {'; '.join(reasons)}", err=True)
    problems = []
    if failed:
        rejected = sum(f.status == "rejected" for f in failed)
        problems.append(f"{len(failed)} of {len(drops.files)} dropped files not loaded "
                        f"({rejected} rejected, {len(failed) - rejected} failed)")
    if failed_tenants:
        problems.append(f"{len(failed_tenants)} tenants not published (their data failed a check)")
    if problems:
        raise AuditoryxError("; ".join(problems) + ": see above")


def _tenant_ids(settings: Settings, slugs: list[str] | None) -> list[str] | None:
    if not slugs:
        return None
    _require_schema(settings)
    from operational.tenants import tenant_id_for_slug

    engine = _engine(settings)
    try:
        return [tenant_id_for_slug(engine, slug) for slug in slugs]
    finally:
        engine.dispose()  # no SQLAlchemy SQLite handle stays open beside the ADBC reader


@app.command()
def init() -> None:
    """Create the operational database schema (safe to run again); on PostgreSQL also make the web
    tier's login (AUDITORYX_APP_DATABASE_URL) a member of the row-level-security role."""
    from operational.db import create_schema, ensure_app_login

    settings = get_settings()
    engine = _engine(settings)
    create_schema(engine)
    typer.echo(f"operational schema ready at {_redacted(settings.operational_database_url)}")
    login = ensure_app_login(engine, settings.app_database_url)
    if login:
        typer.echo(f"web tier login {login!r} is a member of auditoryx_app (row-level security applies)")


@app.command()
def generate(
    tenants: int = typer.Option(3, "--tenants", min=1, help="Number of tenants to generate."),
    seed: int = typer.Option(42, "--seed", help="Random seed: same seed, same data."),
    scale: float = typer.Option(1.0, "--scale", min=0.0, help="Multiplies every tenant's booking count."),
    bookings: Optional[int] = typer.Option(
        None, "--bookings", min=0,
        help="Total bookings over all tenants (rescales the long tail), e.g. --tenants 1000 --bookings 10000000."),
) -> None:
    """Generate deterministic demo data (replaces tenants with the same slugs)."""
    from operational.db import create_schema
    from operational.generator import generate as generate_data

    settings = get_settings()
    progress = _Progress()
    engine = _engine(settings)
    create_schema(engine)
    created = generate_data(engine, tenants=tenants, seed=seed, as_of=settings.effective_as_of(),
                            password=settings.demo_password, scale=scale, target_bookings=bookings,
                            progress=progress)
    total = sum(t.bookings for t in created)
    progress(f"generated {len(created)} tenants, {total} bookings")


@app.command()
def refresh(
    tenant: Optional[list[str]] = typer.Option(None, "--tenant", help="Tenant slug (repeatable); default all."),
    full: bool = typer.Option(False, "--full", help="Re-read tenants whole (finds rows deleted in the source)."),
) -> None:
    """Ingest the operational data, run dbt build and publish tenant snapshots."""
    from auditoryx.pipeline import refresh as run_refresh

    settings = get_settings()
    _require_schema(settings)
    result = run_refresh(settings, _tenant_ids(settings, tenant), progress=_Progress(),
                         mode="full" if full else "incremental")
    _file_drop_problems(result.ingestion.file_drops, result.failed_tenants)


@app.command()
def ingest(
    tenant: Optional[list[str]] = typer.Option(None, "--tenant", help="Tenant slug (repeatable); default all."),
    full: bool = typer.Option(False, "--full", help="Re-read tenants whole (finds rows deleted in the source)."),
) -> None:
    """Only extract the operational data into the build database (no dbt, no publishing)."""
    from auditoryx.locking import exclusive_lock
    from auditoryx.pipeline import ingest as run_ingest

    settings = get_settings()
    _require_schema(settings)
    tenant_ids = _tenant_ids(settings, tenant)
    progress = _Progress()
    with exclusive_lock(settings.resolved_warehouse_dir / "build.lock"):
        result = run_ingest(settings, tenant_ids, progress, "full" if full else "incremental")
    extraction, drops = result.extraction, result.file_drops
    progress(f"{extraction.mode}: {extraction.rows.get('bookings', 0)} bookings upserted for "
             f"{len(extraction.tenant_ids)} tenants; {len(drops.files)} dropped files "
             f"({drops.rows_loaded} rows loaded, {drops.rows_quarantined} quarantined)")
    _file_drop_problems(drops)


@app.command()
def publish(
    tenant: Optional[list[str]] = typer.Option(None, "--tenant", help="Tenant slug (repeatable); default all."),
) -> None:
    """Only publish the current marts of the build database as new tenant snapshot versions."""
    from auditoryx.locking import exclusive_lock
    from auditoryx.pipeline import publish as run_publish

    settings = get_settings()
    _require_build_database(settings)
    tenant_ids = _tenant_ids(settings, tenant)
    progress = _Progress()
    with exclusive_lock(settings.resolved_warehouse_dir / "build.lock"):
        result = run_publish(settings, settings.effective_as_of(), tenant_ids, progress)
    progress(f"published version {result.version} for {len(result.tenant_ids)} tenants")


@app.command()
def snapshot(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    out: Path = typer.Option(..., "--out", help="DuckDB file to write (schema marts, table meta)."),
) -> None:
    """Write one tenant's current marts to a standalone DuckDB file for analysts."""
    from warehouse.snapshot import write_tenant_snapshot

    settings = get_settings()
    (tenant_id,) = _tenant_ids(settings, [tenant])
    path = write_tenant_snapshot(settings.published_dir, tenant_id, out)
    typer.echo(f"wrote {path}")


@app.command()
def export(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug (looked up; the folder is named by tenant id)."),
    format: str = typer.Option("xlsx,html,csv", "--format",
                               help="Comma-separated: xlsx, html, pdf (headless Chromium), csv, parquet."),
    period: str = typer.Option("last-12-months", "--period",
                               help="last-12-months, last-N-months, last-N-days, previous-month, YYYY, YYYY-Qn, "
                                    "YYYY-MM or YYYY-MM-DD..YYYY-MM-DD (relative to the snapshot's as-of date)."),
    sections: Optional[str] = typer.Option(None, "--sections", help="Comma-separated section keys (default: all): "
                                           "kpis, revenue_by_month, top_performers, receivables_aging, "
                                           "project_health, recent_activity."),
    include_ids: bool = typer.Option(False, "--include-ids", help="Add internal ids (artist, project, entity)."),
) -> None:
    """Export the tenant's report (XLSX, HTML, PDF, CSV, Parquet) with a manifest under
    var/exports/<tenant id>/<period>/<generated stamp>/."""
    from operational.permissions import command_line_operator
    from reports.export import export_tenant

    settings = get_settings()
    (tenant_id,) = _tenant_ids(settings, [tenant])
    result = export_tenant(settings, tenant_id, actor=command_line_operator(tenant_id), formats=format,
                           period=period, sections=sections, include_ids=include_ids)
    typer.echo(f"wrote {result.folder} ({len(result.manifest['files'])} files)")
    for entry in result.manifest["files"]:
        typer.echo(f"  {entry['file']}  ({entry['rows']} rows, sha256 {entry['sha256'][:12]}…)", err=True)


@app.command()
def landing(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug (looked up; the folder is named by tenant id)."),
) -> None:
    """Print the tenant's file-drop folder (var/landing/<tenant id>/); drop files in its <entity>/ folders."""
    from ingestion.files import ENTITIES, landing_folder

    settings = get_settings()
    (tenant_id,) = _tenant_ids(settings, [tenant])
    typer.echo(str(landing_folder(settings.resolved_landing_dir, tenant_id)))
    typer.echo(f"entity folders: {', '.join(ENTITIES)}", err=True)


app.command("sql")(sql)  # auditoryx/cli_sql.py: formats, --output, the shell
app.command("tables")(tables)


@app.command()
def worker(
    poll: float = typer.Option(0.2, "--poll", min=0.05, help="Seconds between looks for requests."),
) -> None:
    """Refresh tenants as soon as a write asks (AUDITORYX_REFRESH_ON_WRITE=worker); `serve` starts it."""
    import logging

    from auditoryx.refresh_worker import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(get_settings(), poll_seconds=poll)


@app.command()
def serve(
    port: int = typer.Option(8501, "--port", help="HTTP port."),
    address: str = typer.Option("0.0.0.0", "--address", help="Address to listen on."),
) -> None:
    """Serve the Streamlit dashboards (read-only over published snapshots)."""
    _serve(port, address)


def _serve(port: int, address: str) -> None:
    app_file = PROJECT_ROOT / "dashboards" / "server.py"  # the app plus its cookie routes
    command = [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.headless", "true",
               "--server.port", str(port), "--server.address", address,
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
               "--client.showErrorDetails", "false", "--server.maxUploadSize", "1"]  # MB: logos, user CSVs
    typer.echo(f"serving on http://localhost:{port}", err=True)
    if get_settings().refresh_on_write == "worker":  # it exits when the server (this pid, exec'd) does
        import subprocess

        subprocess.Popen([sys.executable, "-m", "auditoryx.cli", "worker"], cwd=PROJECT_ROOT,
                         stdin=subprocess.DEVNULL)
    os.execv(sys.executable, command)


@app.command()
def demo(
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Serve the dashboards at the end."),
    tenants: int = typer.Option(3, "--tenants", min=1),
    seed: int = typer.Option(42, "--seed"),
    port: int = typer.Option(8501, "--port"),
) -> None:
    """Everything at once: schema, demo data, refresh, then serve (idempotent)."""
    from auditoryx.demo import demo_logins, format_logins, port_problem

    if serve_after and (problem := port_problem(port)):  # say it before minutes of work, not after
        raise AuditoryxError(problem)
    from auditoryx.pipeline import refresh as run_refresh
    from operational.db import create_schema, ensure_app_login
    from operational.generator import generate as generate_data

    settings = get_settings()
    progress = _Progress()
    progress(f"operational database: {_redacted(settings.operational_database_url)}")
    engine = _engine(settings)
    create_schema(engine)
    ensure_app_login(engine, settings.app_database_url)
    created = generate_data(engine, tenants=tenants, seed=seed, as_of=settings.effective_as_of(),
                            password=settings.demo_password, progress=progress)
    run_refresh(settings, progress=progress, mode="full")  # regenerated rows keep their old updated_at
    logins = demo_logins(engine, [(tenant.id, tenant.name) for tenant in created])
    engine.dispose()
    typer.echo("")
    for line in format_logins(logins, settings.demo_password):
        typer.echo(line)
    if serve_after:
        typer.echo(f"\nDashboard: http://localhost:{port}  (log in with one of the above; Ctrl+C stops it)")
        _serve(port, "0.0.0.0")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    debug = os.environ.get("AUDITORYX_DEBUG") == "1"
    try:
        app(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except AuditoryxError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # one clear line for the user; AUDITORYX_DEBUG=1 shows the traceback
        if debug:
            raise
        first_line = (str(exc).strip().splitlines() or [""])[0]
        typer.echo(f"error: {type(exc).__name__}: {first_line}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
