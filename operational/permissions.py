"""Who may do what: the one permission matrix every surface asks (pages, CLI, exports, API).

``check_permission(actor, resource, action)`` answers from three layers, in this order:

1. the actor's per-user **denials** (``users.permissions`` entries ``!resource:action``) win;
2. the **role matrix** below (resource × action × role, each cell a :class:`Scope`);
3. per-user **grants** (``users.permissions`` entries ``resource:action``) add tenant-wide
   rights on tenant resources (never on the platform).

A scope says which rows the right covers: the whole tenant, only the creator's own artist
(CREATOR), or only the bookings where the user is the client (CLIENT). Callers that list rows
filter by :func:`scope_for`; callers that touch one row pass it as ``row`` and get its answer.

A SUPER_ADMIN operates the platform; inside a tenant (their own, or one opened from the platform
page) they only read. Everything here is pure: no database, no Streamlit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Iterable, Mapping

from auditoryx.errors import AuditoryxError
from operational.enums import UserRole


class Resource(StrEnum):
    ANALYTICS = "analytics"                    # dashboards: KPIs, volumes, trends
    REVENUE = "revenue"                        # tenant-level money: revenue totals, trends
    RECEIVABLES = "receivables"                # outstanding amounts, aging
    ARTIST_PERFORMANCE = "artist_performance"  # per-artist rankings and volumes
    ARTIST_EARNINGS = "artist_earnings"        # per-artist money
    ROSTER = "roster"                          # artists
    BOOKINGS = "bookings"
    PAYMENT_STATUS = "payment_status"          # a booking's payment status
    CALENDAR = "calendar"
    PROJECTS = "projects"
    REPORTS = "reports"                        # exports and their schedules
    DATA_QUALITY = "data_quality"              # quarantined rows, ingestion runs
    USERS = "users"
    SETTINGS = "settings"                      # organization settings and branding
    AUDIT_LOG = "audit_log"
    PLATFORM = "platform"                      # every organization (operators only)


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    APPROVE = "approve"    # status transitions that need a manager (approve, confirm…)
    EXPORT = "export"


class Scope(StrEnum):
    TENANT = "tenant"          # every row of the actor's tenant
    OWN_ARTIST = "own_artist"  # rows of the artist(s) linked to the actor (CREATOR)
    OWN_CLIENT = "own_client"  # bookings where the actor is the client (CLIENT)
    PLATFORM = "platform"      # every organization (SUPER_ADMIN)


APPLICABLE_ACTIONS: Mapping[Resource, tuple[Action, ...]] = {
    Resource.ANALYTICS: (Action.READ,),
    Resource.REVENUE: (Action.READ,),
    Resource.RECEIVABLES: (Action.READ,),
    Resource.ARTIST_PERFORMANCE: (Action.READ,),
    Resource.ARTIST_EARNINGS: (Action.READ,),
    Resource.ROSTER: (Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE),
    Resource.BOOKINGS: (Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE, Action.APPROVE),
    Resource.PAYMENT_STATUS: (Action.READ, Action.UPDATE),
    Resource.CALENDAR: (Action.READ, Action.EXPORT),
    Resource.PROJECTS: (Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE),
    Resource.REPORTS: (Action.READ, Action.EXPORT, Action.UPDATE),
    Resource.DATA_QUALITY: (Action.READ,),
    Resource.USERS: (Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE),
    Resource.SETTINGS: (Action.READ, Action.UPDATE),
    Resource.AUDIT_LOG: (Action.READ,),
    Resource.PLATFORM: (Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE),
}
"""The actions that mean something for each resource (REPORTS/UPDATE = manage schedules)."""

TENANT_RESOURCES = tuple(r for r in Resource if r is not Resource.PLATFORM)
READ, CREATE, UPDATE, DELETE, APPROVE, EXPORT = (Action.READ, Action.CREATE, Action.UPDATE,
                                                   Action.DELETE, Action.APPROVE, Action.EXPORT)


def _all(resource: Resource, scope: Scope = Scope.TENANT) -> dict[Action, Scope]:
    return {action: scope for action in APPLICABLE_ACTIONS[resource]}


def _only(*actions: Action, scope: Scope = Scope.TENANT) -> dict[Action, Scope]:
    return {action: scope for action in actions}


MATRIX: Mapping[UserRole, Mapping[Resource, Mapping[Action, Scope]]] = {
    UserRole.SUPER_ADMIN: {
        **{resource: _only(READ) for resource in TENANT_RESOURCES},
        Resource.PLATFORM: _all(Resource.PLATFORM, Scope.PLATFORM),
    },
    UserRole.ORG_ADMIN: {resource: _all(resource) for resource in TENANT_RESOURCES},
    UserRole.LABEL_MANAGER: {
        Resource.ANALYTICS: _only(READ),
        Resource.REVENUE: _only(READ),
        Resource.RECEIVABLES: _only(READ),
        Resource.ARTIST_PERFORMANCE: _only(READ),
        Resource.ARTIST_EARNINGS: _only(READ),
        Resource.ROSTER: _all(Resource.ROSTER),
        Resource.BOOKINGS: _all(Resource.BOOKINGS),
        Resource.PAYMENT_STATUS: _only(READ),
        Resource.CALENDAR: _all(Resource.CALENDAR),
        Resource.PROJECTS: _all(Resource.PROJECTS),
        Resource.REPORTS: _only(READ, EXPORT),
        Resource.DATA_QUALITY: _only(READ),
    },
    UserRole.ARTIST_MANAGER: {
        Resource.ANALYTICS: _only(READ),
        Resource.ARTIST_PERFORMANCE: _only(READ),
        Resource.ARTIST_EARNINGS: _only(READ),
        Resource.ROSTER: _all(Resource.ROSTER),
        Resource.BOOKINGS: _only(READ, CREATE, UPDATE),
        Resource.CALENDAR: _all(Resource.CALENDAR),
        Resource.PROJECTS: _only(READ),
    },
    UserRole.STUDIO_MANAGER: {
        Resource.ANALYTICS: _only(READ),
        Resource.ROSTER: _only(READ),
        Resource.BOOKINGS: _all(Resource.BOOKINGS),
        Resource.CALENDAR: _all(Resource.CALENDAR),
        Resource.PROJECTS: _all(Resource.PROJECTS),
    },
    UserRole.ACCOUNTANT: {
        Resource.ANALYTICS: _only(READ),
        Resource.REVENUE: _only(READ),
        Resource.RECEIVABLES: _only(READ),
        Resource.ARTIST_EARNINGS: _only(READ),
        Resource.BOOKINGS: _only(READ),
        Resource.PAYMENT_STATUS: _all(Resource.PAYMENT_STATUS),
        Resource.PROJECTS: _only(READ),
        Resource.REPORTS: _all(Resource.REPORTS),
    },
    UserRole.VIEWER: {
        Resource.ANALYTICS: _only(READ),
        Resource.REVENUE: _only(READ),
        Resource.ARTIST_PERFORMANCE: _only(READ),
        Resource.ROSTER: _only(READ),
        Resource.PROJECTS: _only(READ),
    },
    UserRole.CREATOR: {
        Resource.ARTIST_PERFORMANCE: _only(READ, scope=Scope.OWN_ARTIST),
        Resource.ARTIST_EARNINGS: _only(READ, scope=Scope.OWN_ARTIST),
        Resource.ROSTER: _only(READ, UPDATE, scope=Scope.OWN_ARTIST),
        Resource.BOOKINGS: _only(READ, scope=Scope.OWN_ARTIST),
        Resource.CALENDAR: _only(READ, EXPORT, scope=Scope.OWN_ARTIST),
    },
    UserRole.CLIENT: {
        Resource.BOOKINGS: _only(READ, CREATE, scope=Scope.OWN_CLIENT),
        Resource.CALENDAR: _only(READ, EXPORT, scope=Scope.OWN_CLIENT),
    },
}


class PermissionDenied(AuditoryxError):
    """The actor may not do this (the message names the resource and action, never data)."""


class InvalidPermission(AuditoryxError):
    """A ``users.permissions`` entry that is not ``[!]resource:action``."""


@dataclass(frozen=True)
class Grants:
    """Per-user additions and removals parsed from ``users.permissions``."""

    allowed: frozenset[tuple[Resource, Action]] = frozenset()
    denied: frozenset[tuple[Resource, Action]] = frozenset()


_ACTION_ALIASES = {"write": (CREATE, UPDATE, DELETE), "*": tuple(Action)}


def parse_permissions(entries: Iterable[str] | None) -> Grants:
    """``["bookings:write", "!reports:export", "analytics:read"]`` → :class:`Grants`.

    ``write`` stands for create, update and delete; ``*`` for every action; a leading ``!``
    denies. Actions that do not apply to the resource are ignored; the platform cannot be granted.
    """
    allowed: set[tuple[Resource, Action]] = set()
    denied: set[tuple[Resource, Action]] = set()
    for entry in entries or ():
        text = str(entry).strip().lower()
        target = denied if text.startswith("!") else allowed
        resource_name, _, action_name = text.lstrip("!").partition(":")
        try:
            resource = Resource(resource_name)
            actions = _ACTION_ALIASES.get(action_name) or (Action(action_name),)
        except ValueError:
            raise InvalidPermission(
                f"invalid permission {entry!r}: expected '[!]resource:action' with a resource among "
                f"{', '.join(Resource)} and an action among {', '.join(Action)}, 'write' or '*'") from None
        if resource is Resource.PLATFORM and target is allowed:
            raise InvalidPermission("the platform cannot be granted to a user: it comes with the SUPER_ADMIN role")
        target.update((resource, a) for a in actions if a in APPLICABLE_ACTIONS[resource])
    return Grants(frozenset(allowed), frozenset(denied))


@dataclass(frozen=True)
class Actor:
    """Someone acting in one tenant: the logged-in user, an API key's owner, a CLI operator."""

    user_id: str | None
    tenant_id: str
    role: UserRole
    grants: Grants = field(default_factory=Grants)
    artist_ids: frozenset[str] = frozenset()   # artists linked to the user (CREATOR's own)
    read_only: bool = False                    # e.g. an operator viewing another tenant
    api_key_id: str | None = None              # the API key acting (audited beside the user)

    @classmethod
    def of(cls, *, user_id: str | None, tenant_id: str, role: str | UserRole,
           permissions: Iterable[str] | None = (), artist_ids: Iterable[str] = (),
           read_only: bool = False) -> Actor:
        return cls(user_id=user_id, tenant_id=tenant_id, role=UserRole(str(role)),
                   grants=parse_permissions(permissions), artist_ids=frozenset(artist_ids),
                   read_only=read_only)


@dataclass(frozen=True)
class Row:
    """What a condition needs to know about one row (a booking, an artist…)."""

    artist_id: str | None = None
    client_id: str | None = None


def scope_for(actor: Actor, resource: Resource | str, action: Action | str) -> Scope | None:
    """Which rows ``actor`` may ``action`` on ``resource``: a :class:`Scope`, or None for none."""
    resource, action = Resource(resource), Action(action)
    if action not in APPLICABLE_ACTIONS[resource]:
        return None
    if (resource, action) in actor.grants.denied:
        return None
    if (actor.read_only or actor.role is UserRole.SUPER_ADMIN) and action is not READ \
            and resource is not Resource.PLATFORM:
        return None  # operators only read inside a tenant
    if actor.read_only and resource is Resource.PLATFORM:
        return None
    scope = MATRIX.get(actor.role, {}).get(resource, {}).get(action)
    if scope is None and (resource, action) in actor.grants.allowed:
        scope = Scope.TENANT
    return scope


def check_permission(actor: Actor, resource: Resource | str, action: Action | str, *,
                     row: Row | None = None) -> bool:
    """May ``actor`` do ``action`` on ``resource`` (on ``row``, when one row is concerned)?

    Without a row, a right limited to the actor's own rows still answers True: the caller must
    then filter by :func:`scope_for`.
    """
    scope = scope_for(actor, resource, action)
    if scope is None:
        return False
    if row is None or scope in (Scope.TENANT, Scope.PLATFORM):
        return True
    if scope is Scope.OWN_ARTIST:
        return row.artist_id is not None and row.artist_id in actor.artist_ids
    if scope is Scope.OWN_CLIENT:
        return row.client_id is not None and row.client_id == actor.user_id
    return False


def require_permission(actor: Actor, resource: Resource | str, action: Action | str, *,
                       row: Row | None = None) -> Scope:
    """The actor's scope for this, or :class:`PermissionDenied`."""
    if not check_permission(actor, resource, action, row=row):
        raise PermissionDenied(f"not allowed: {Action(action)} {Resource(resource)}")
    return scope_for(actor, resource, action)  # type: ignore[return-value]


# The README's table, generated from MATRIX (a test keeps the two equal).

_SCOPE_MARK = {Scope.TENANT: "", Scope.OWN_ARTIST: " (own artist)", Scope.OWN_CLIENT: " (as client)",
               Scope.PLATFORM: " (all orgs)"}


def matrix_markdown() -> str:
    """The role matrix as a Markdown table: one row per resource, one column per role."""
    roles = list(UserRole)
    lines = ["| resource | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for resource in Resource:
        cells = []
        for role in roles:
            rights = MATRIX.get(role, {}).get(resource, {})
            if not rights:
                cells.append("–")
                continue
            scopes = set(rights.values())
            mark = _SCOPE_MARK[scopes.pop()] if len(scopes) == 1 else ""
            cells.append(", ".join(action for action in APPLICABLE_ACTIONS[resource] if action in rights) + mark)
        lines.append(f"| {resource} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def command_line_operator(tenant_id: str) -> Actor:
    """Whoever runs the tenant-level CLI admin verbs (`auditoryx users …`): they hold the
    operational database's credentials, so they act as the tenant's ORG_ADMIN (audited, no user)."""
    return Actor(user_id=None, tenant_id=tenant_id, role=UserRole.ORG_ADMIN)


def platform_operator() -> Actor:
    """Whoever runs the platform CLI verbs (`auditoryx tenants …`): a SUPER_ADMIN without a user."""
    return Actor(user_id=None, tenant_id="", role=UserRole.SUPER_ADMIN)


# API keys: an organization's integrations act through scopes instead of a user's role.

API_SCOPES: Mapping[str, frozenset[tuple[Resource, Action]]] = {
    "analytics:read": frozenset(
        {(resource, READ) for resource in TENANT_RESOURCES if resource not in (Resource.USERS, Resource.AUDIT_LOG,
                                                                                  Resource.SETTINGS)}
        | {(Resource.REPORTS, EXPORT), (Resource.CALENDAR, EXPORT)}),
    "bookings:write": frozenset(
        {(Resource.BOOKINGS, action) for action in APPLICABLE_ACTIONS[Resource.BOOKINGS]}
        | {(Resource.PROJECTS, action) for action in APPLICABLE_ACTIONS[Resource.PROJECTS]}
        | {(Resource.CALENDAR, READ), (Resource.CALENDAR, EXPORT), (Resource.ROSTER, READ),
           (Resource.PAYMENT_STATUS, READ), (Resource.PAYMENT_STATUS, UPDATE)}),
    "admin": frozenset(
        {(resource, action) for resource in (Resource.USERS, Resource.SETTINGS, Resource.ROSTER, Resource.REPORTS)
         for action in APPLICABLE_ACTIONS[resource]}
        | {(Resource.AUDIT_LOG, READ)}),
}
"""What each API key scope allows: ``analytics:read`` every analytics read and export request,
``bookings:write`` bookings, projects and their milestones, ``admin`` users, roster, report
schedules, organization settings (API keys, webhooks) and the audit log."""


class InvalidScope(AuditoryxError):
    """An API key scope that does not exist."""


def parse_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Known scope names, de-duplicated and sorted; at least one."""
    names = sorted({str(scope).strip().lower() for scope in scopes if str(scope).strip()})
    unknown = [name for name in names if name not in API_SCOPES]
    if unknown or not names:
        raise InvalidScope(f"invalid API key scope(s) {', '.join(unknown) or '(none)'}: choose among "
                           f"{', '.join(API_SCOPES)}")
    return tuple(names)


def api_key_actor(tenant_id: str, key_id: str, scopes: Iterable[str]) -> Actor:
    """An API key acting in its tenant: an ORG_ADMIN limited to what its scopes allow (every
    other right denied), audited as the key."""
    allowed: set[tuple[Resource, Action]] = set()
    for scope in parse_scopes(scopes):
        allowed |= API_SCOPES[scope]
    denied = frozenset((resource, action) for resource in TENANT_RESOURCES for action in APPLICABLE_ACTIONS[resource]
                       if (resource, action) not in allowed)
    return Actor(user_id=None, tenant_id=tenant_id, role=UserRole.ORG_ADMIN, grants=Grants(denied=denied),
                 api_key_id=key_id)


def calendar_feed_reader(tenant_id: str) -> Actor:
    """Whoever holds a calendar-feed token: reads the tenant's calendar, nothing else."""
    keep = {(Resource.CALENDAR, READ), (Resource.CALENDAR, EXPORT)}
    denied = frozenset((resource, action) for resource in TENANT_RESOURCES for action in APPLICABLE_ACTIONS[resource]
                       if (resource, action) not in keep)
    return Actor(user_id=None, tenant_id=tenant_id, role=UserRole.ORG_ADMIN, grants=Grants(denied=denied))
