"""`auditoryx tenants …`: create organizations (with their first admin), list, change plans,
deactivate and reactivate them. The command line acts as the platform operator.

Register with ``app.add_typer(tenants_app, name="tenants")``. Problems are raised as
:class:`~auditoryx.errors.AuditoryxError`, which ``auditoryx.cli.main`` prints as one line.
"""
from __future__ import annotations

from typing import Optional

import typer

from auditoryx.settings import get_settings
from operational.enums import OrgType, Plan

tenants_app = typer.Typer(help="Manage the platform's tenants (organizations).", no_args_is_help=True,
                          add_completion=False)

_PASSWORD_HELP = "The admin's password (visible in shell history: prefer --prompt-password or a generated one)."


def _engine():
    from operational.db import make_engine

    return make_engine(get_settings().operational_database_url)


def _tenant_id(engine, slug: str) -> str:
    from operational.tenants import tenant_id_for_slug
    from operational.users import require_schema

    require_schema(engine)
    return tenant_id_for_slug(engine, slug)


@tenants_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="The organization's name."),
    slug: str = typer.Option(..., "--slug", help="Permanent short name: a-z, 0-9 and '-' (cannot change later)."),
    type_: str = typer.Option(..., "--type", help=f"One of {', '.join(OrgType)}."),
    plan: str = typer.Option(..., "--plan", help=f"One of {', '.join(Plan)}."),
    currency: str = typer.Option(..., "--currency", help="Base currency, ISO 4217 (e.g. EUR)."),
    timezone: str = typer.Option(..., "--timezone", help="IANA time zone (e.g. Europe/Berlin)."),
    admin_email: str = typer.Option(..., "--admin-email", help="E-mail address of the first ORG_ADMIN."),
    admin_name: str = typer.Option(..., "--admin-name", help="Name of the first ORG_ADMIN."),
    admin_password: Optional[str] = typer.Option(None, "--admin-password", help=_PASSWORD_HELP),
    prompt_password: bool = typer.Option(False, "--prompt-password", help="Type the admin's password (hidden)."),
) -> None:
    """Create an organization and its first ORG_ADMIN (without a password, one is generated and printed once)."""
    from operational.organizations import create_organization
    from operational.permissions import platform_operator

    if admin_password is None and prompt_password:
        admin_password = typer.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    created = create_organization(_engine(), platform_operator(), name=name, slug=slug, type=type_, plan=plan,
                                  base_currency=currency, time_zone=timezone, admin_email=admin_email,
                                  admin_name=admin_name, admin_password=admin_password)
    org = created.organization
    typer.echo(f"created tenant {org.slug} ({org.name}, {org.type}, {org.plan}) with admin {created.admin.email}")
    if created.admin_password is not None:
        typer.echo(f"generated password (shown once): {created.admin_password}")


@tenants_app.command("list")
def list_() -> None:
    """List every tenant with its plan, state and number of users."""
    from operational.organizations import list_organizations
    from operational.permissions import platform_operator

    orgs = list_organizations(_engine(), platform_operator())
    if not orgs:
        typer.echo("no tenants")
        return
    slug_width = max(4, *(len(o.slug) for o in orgs))
    typer.echo(f"{'SLUG':<{slug_width}}  {'PLAN':<16}  {'TYPE':<23}  {'ACTIVE':<6}  {'USERS':>5}  "
               f"{'CREATED (UTC)':<13}  NAME")
    for o in orgs:
        created = o.created_at.strftime("%Y-%m-%d") if o.created_at else ""
        typer.echo(f"{o.slug:<{slug_width}}  {o.plan:<16}  {o.type:<23}  {'yes' if o.is_active else 'no':<6}  "
                   f"{o.user_count:>5}  {created:<13}  {o.name}")


@tenants_app.command("set-plan")
def set_plan(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug."),
    plan: str = typer.Option(..., "--plan", help=f"One of {', '.join(Plan)}."),
) -> None:
    """Move a tenant to another plan."""
    from operational.organizations import change_plan
    from operational.permissions import platform_operator

    engine = _engine()
    org = change_plan(engine, platform_operator(), _tenant_id(engine, tenant), plan)
    typer.echo(f"{org.slug} is now on the plan {org.plan}")


@tenants_app.command("deactivate")
def deactivate(tenant: str = typer.Option(..., "--tenant", help="Tenant slug.")) -> None:
    """Deactivate a tenant: its users can no longer log in; its data stays."""
    from operational.organizations import deactivate_organization
    from operational.permissions import platform_operator

    engine = _engine()
    org = deactivate_organization(engine, platform_operator(), _tenant_id(engine, tenant))
    typer.echo(f"deactivated {org.slug}")


@tenants_app.command("reactivate")
def reactivate(tenant: str = typer.Option(..., "--tenant", help="Tenant slug.")) -> None:
    """Reactivate a deactivated tenant."""
    from operational.organizations import reactivate_organization
    from operational.permissions import platform_operator

    engine = _engine()
    org = reactivate_organization(engine, platform_operator(), _tenant_id(engine, tenant))
    typer.echo(f"reactivated {org.slug}")
