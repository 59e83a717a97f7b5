"""`auditoryx users …`: create users, list them, reset passwords.

Register with ``app.add_typer(users_app, name="users")``. Problems are raised as
:class:`~auditoryx.errors.AuditoryxError`, which ``auditoryx.cli.main`` prints as one line.
"""
from __future__ import annotations

from typing import Optional

import typer

from auditoryx.settings import get_settings
from operational.enums import UserRole

users_app = typer.Typer(help="Manage the users of a tenant.", no_args_is_help=True, add_completion=False)

_PASSWORD_HELP = "The new password (visible in shell history: prefer --prompt-password or a generated one)."


def _engine():
    from operational.db import make_engine

    return make_engine(get_settings().operational_database_url)


def _chosen_password(password: Optional[str], prompt: bool) -> Optional[str]:
    if password is None and prompt:
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _show_generated(password: Optional[str]) -> None:
    if password is not None:
        typer.echo(f"generated password (shown once): {password}")


@users_app.command("create")
def create(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    email: str = typer.Option(..., "--email"),
    name: str = typer.Option(..., "--name"),
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(UserRole)}."),
    password: Optional[str] = typer.Option(None, "--password", help=_PASSWORD_HELP),
    prompt_password: bool = typer.Option(False, "--prompt-password", help="Type the password (hidden)."),
) -> None:
    """Create a user in a tenant; without a password, one is generated and printed once."""
    from operational.users import create_user

    user, generated = create_user(_engine(), tenant_slug=tenant, email=email, name=name, role=role,
                                  password=_chosen_password(password, prompt_password))
    typer.echo(f"created {user.email} ({user.role}) in {tenant}")
    _show_generated(generated)


@users_app.command("list")
def list_(tenant: str = typer.Option(..., "--tenant", help="Tenant slug.")) -> None:
    """List a tenant's users (never their password hashes)."""
    from operational.users import list_users

    users = list_users(_engine(), tenant_slug=tenant)
    if not users:
        typer.echo(f"no users in {tenant}")
        return
    width = max(len(u.email) for u in users)
    typer.echo(f"{'EMAIL':<{width}}  {'ROLE':<14}  {'ACTIVE':<6}  {'LAST LOGIN (UTC)':<16}  NAME")
    for u in users:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
        typer.echo(f"{u.email:<{width}}  {u.role:<14}  {'yes' if u.is_active else 'no':<6}  {last:<16}  {u.name}")


@users_app.command("reset-password")
def reset_password(
    email: str = typer.Option(..., "--email"),
    password: Optional[str] = typer.Option(None, "--password", help=_PASSWORD_HELP),
    prompt_password: bool = typer.Option(False, "--prompt-password", help="Type the password (hidden)."),
) -> None:
    """Set a user's password; without one, a new password is generated and printed once."""
    from operational.users import reset_password as reset

    generated = reset(_engine(), email=email, password=_chosen_password(password, prompt_password))
    typer.echo(f"password of {email.strip().lower()} reset")
    _show_generated(generated)
