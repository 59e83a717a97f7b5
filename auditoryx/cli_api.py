"""`auditoryx api` (serve the HTTP API with uvicorn) and `auditoryx api-keys create/list/revoke`.

The key commands act as the tenant's ORG_ADMIN (``command_line_operator``), like `auditoryx
users`; a key's secret is printed once and never stored. Register with
``app.add_typer(api_keys_app, name="api-keys")`` and ``app.command("api")(api)``.
"""
from __future__ import annotations

import datetime as dt
from typing import List, Optional

import typer

from auditoryx.errors import AuditoryxError
from auditoryx.settings import get_settings

api_keys_app = typer.Typer(help="Manage a tenant's API keys.", no_args_is_help=True, add_completion=False)


def _engine():
    from operational.db import make_engine

    return make_engine(get_settings().operational_database_url)


def _operator(engine, slug: str):
    from operational.permissions import command_line_operator
    from operational.tenants import tenant_id_for_slug

    return command_line_operator(tenant_id_for_slug(engine, slug))


def api(port: int = typer.Option(8000, "--port", help="HTTP port."),
        address: str = typer.Option("127.0.0.1", "--address", help="Address to listen on."),
        workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (limits hold across them).")) -> None:
    """Serve the HTTP API (OpenAPI at /api/docs)."""
    import uvicorn

    typer.echo(f"API on http://{address}:{port}/api/v1 (docs: http://{address}:{port}/api/docs)", err=True)
    uvicorn.run("api.app:create_app", factory=True, host=address, port=port, workers=workers,
                log_level="warning", access_log=False)


@api_keys_app.command("create")
def create(tenant: str = typer.Option(..., "--tenant", help="The tenant's slug."),
           name: str = typer.Option(..., "--name", help="What the key is for (e.g. 'accounting sync')."),
           scope: List[str] = typer.Option(..., "--scope", help="analytics:read, bookings:write or admin (repeat)."),
           expires: Optional[str] = typer.Option(None, "--expires", help="Expiry date YYYY-MM-DD (UTC midnight).")) -> None:
    """Create a key; its secret is printed once."""
    from operational.api_keys import create_key

    expires_at = None
    if expires:
        try:
            expires_at = dt.datetime.combine(dt.date.fromisoformat(expires), dt.time(), dt.timezone.utc)
        except ValueError:
            raise AuditoryxError(f"--expires {expires!r}: not a date (YYYY-MM-DD)") from None
    engine = _engine()
    try:
        summary, secret = create_key(engine, _operator(engine, tenant), name=name, scopes=scope, expires_at=expires_at)
    finally:
        engine.dispose()
    typer.echo(f"created key {summary.id} ({summary.prefix}…, scopes {', '.join(summary.scopes)})")
    typer.echo(f"secret (shown once): {secret}")


@api_keys_app.command("list")
def list_(tenant: str = typer.Option(..., "--tenant", help="The tenant's slug.")) -> None:
    """The tenant's keys (never their secrets)."""
    from operational.api_keys import list_keys

    engine = _engine()
    try:
        keys = list_keys(engine, _operator(engine, tenant))
    finally:
        engine.dispose()
    if not keys:
        typer.echo("no API keys")
    for key in keys:
        state = "active" if key.active else ("revoked" if key.revoked_at else "expired")
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
        typer.echo(f"{key.id}  {key.prefix}…  {state:8}  {','.join(key.scopes):40}  last used {used}  {key.name}")


@api_keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (from `api-keys list`)."),
           tenant: str = typer.Option(..., "--tenant", help="The tenant's slug.")) -> None:
    """Revoke a key at once (every API process refuses it from the next request)."""
    from operational.api_keys import revoke_key

    engine = _engine()
    try:
        key = revoke_key(engine, _operator(engine, tenant), key_id)
    finally:
        engine.dispose()
    typer.echo(f"revoked {key.id} ({key.prefix}…)")
