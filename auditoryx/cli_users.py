"""`auditoryx users …`: create users (one or from a CSV file), list them, change roles,
deactivate and reactivate them, reset passwords. The command line acts as the tenant's ORG_ADMIN
(``operational.permissions.command_line_operator``): the same rules as the users page apply.

Register with ``app.add_typer(users_app, name="users")``. Problems are raised as
:class:`~auditoryx.errors.AuditoryxError`, which ``auditoryx.cli.main`` prints as one line.
"""
from __future__ import annotations

from pathlib import Path
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


def _operator_and_user(engine, tenant: str, email: str):
    """The tenant's command-line operator and the id of the tenant's user with this address."""
    from operational.permissions import command_line_operator
    from operational.tenants import tenant_id_for_slug
    from operational.users import find_user_by_email, require_schema

    require_schema(engine)
    actor = command_line_operator(tenant_id_for_slug(engine, tenant))
    return actor, find_user_by_email(engine, actor, email).id


@users_app.command("set-role")
def set_role(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    email: str = typer.Option(..., "--email"),
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(r for r in UserRole if r != UserRole.SUPER_ADMIN)}."),
) -> None:
    """Give a user of the tenant another role (the last active ORG_ADMIN keeps theirs)."""
    from operational.users import change_role

    engine = _engine()
    actor, user_id = _operator_and_user(engine, tenant, email)
    user = change_role(engine, actor, user_id, role)
    typer.echo(f"{user.email} is now {user.role} in {tenant}")


@users_app.command("deactivate")
def deactivate(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    email: str = typer.Option(..., "--email"),
) -> None:
    """Stop a user from logging in (their data and history stay)."""
    from operational.users import deactivate_user

    engine = _engine()
    actor, user_id = _operator_and_user(engine, tenant, email)
    user = deactivate_user(engine, actor, user_id)
    typer.echo(f"deactivated {user.email} in {tenant}")


@users_app.command("activate")
def activate(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    email: str = typer.Option(..., "--email"),
) -> None:
    """Let a deactivated user log in again."""
    from operational.users import reactivate_user

    engine = _engine()
    actor, user_id = _operator_and_user(engine, tenant, email)
    user = reactivate_user(engine, actor, user_id)
    typer.echo(f"reactivated {user.email} in {tenant}")


@users_app.command("bulk-create")
def bulk_create(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    file: Path = typer.Option(..., "--file", exists=True, dir_okay=False, readable=True,
                              help="CSV with the header email,name,role[,password] (blank password: generated)."),
) -> None:
    """Create users from a CSV file: one line per row (created, invalid, duplicate); exit 1 if a row failed."""
    from operational.permissions import command_line_operator
    from operational.tenants import tenant_id_for_slug
    from operational.users import bulk_create_users, require_schema

    engine = _engine()
    require_schema(engine)
    actor = command_line_operator(tenant_id_for_slug(engine, tenant))
    results = bulk_create_users(engine, actor, file.read_bytes())
    width = max([5, *(len(r.email) for r in results)])
    for r in results:
        line = f"row {r.row:<4}  {r.status:<9}  {r.email:<{width}}"
        if r.generated_password is not None:
            line += f"  generated password (shown once): {r.generated_password}"
        elif not r.created:
            line += f"  {r.message}"
        typer.echo(line)
    created = sum(r.created for r in results)
    typer.echo(f"{created} of {len(results)} users created in {tenant}")
    if created < len(results):
        raise typer.Exit(1)
