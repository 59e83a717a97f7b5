"""The permission matrix: roles, scopes, per-user grants and denials, and the README's table."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from operational.enums import UserRole
from operational.permissions import (
    APPLICABLE_ACTIONS,
    MATRIX,
    Action,
    Actor,
    InvalidPermission,
    PermissionDenied,
    Resource,
    Row,
    Scope,
    check_permission,
    command_line_operator,
    matrix_markdown,
    parse_permissions,
    platform_operator,
    require_permission,
    scope_for,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def actor(role: str, **kwargs) -> Actor:
    return Actor.of(user_id="user-1", tenant_id="tenant-1", role=role, **kwargs)


def test_readme_table_is_the_code():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- permissions-matrix:start -->\n(.*?)\n<!-- permissions-matrix:end -->", text, re.S)
    assert found, "README lacks the permissions matrix markers"
    assert found.group(1).strip() == matrix_markdown().strip()


def test_every_role_has_a_row_and_only_applicable_actions():
    assert set(MATRIX) == set(UserRole)
    for role, resources in MATRIX.items():
        for resource, actions in resources.items():
            assert set(actions) <= set(APPLICABLE_ACTIONS[resource]), (role, resource)


@pytest.mark.parametrize("role,resource,action,expected", [
    ("ORG_ADMIN", "users", "create", True),
    ("ORG_ADMIN", "settings", "update", True),
    ("ORG_ADMIN", "platform", "read", False),
    ("LABEL_MANAGER", "bookings", "approve", True),
    ("LABEL_MANAGER", "users", "read", False),
    ("ARTIST_MANAGER", "roster", "create", True),
    ("ARTIST_MANAGER", "revenue", "read", False),
    ("STUDIO_MANAGER", "projects", "update", True),
    ("STUDIO_MANAGER", "artist_earnings", "read", False),
    ("ACCOUNTANT", "payment_status", "update", True),
    ("ACCOUNTANT", "bookings", "create", False),
    ("VIEWER", "analytics", "read", True),
    ("VIEWER", "artist_earnings", "read", False),
    ("VIEWER", "bookings", "read", False),
    ("CLIENT", "analytics", "read", False),
    ("CLIENT", "artist_earnings", "read", False),
    ("CREATOR", "revenue", "read", False),
    ("SUPER_ADMIN", "platform", "create", True),
    ("SUPER_ADMIN", "bookings", "create", False),   # operators only read inside a tenant
    ("SUPER_ADMIN", "analytics", "read", True),
])
def test_role_matrix(role, resource, action, expected):
    assert check_permission(actor(role), resource, action) is expected


def test_creator_only_their_own_artist():
    creator = actor("CREATOR", artist_ids=["artist-mine"])
    assert scope_for(creator, Resource.BOOKINGS, Action.READ) is Scope.OWN_ARTIST
    assert check_permission(creator, "bookings", "read", row=Row(artist_id="artist-mine"))
    assert not check_permission(creator, "bookings", "read", row=Row(artist_id="artist-other"))
    assert not check_permission(actor("CREATOR"), "roster", "update", row=Row(artist_id="artist-mine"))


def test_client_only_bookings_where_they_are_the_client():
    client = actor("CLIENT")
    assert scope_for(client, "bookings", "read") is Scope.OWN_CLIENT
    assert check_permission(client, "bookings", "read", row=Row(client_id="user-1"))
    assert not check_permission(client, "bookings", "read", row=Row(client_id="user-2"))
    assert not check_permission(client, "bookings", "read", row=Row(client_id=None))


def test_per_user_grants_add_and_denials_win():
    viewer = actor("VIEWER", permissions=["artist_earnings:read", "bookings:write"])
    assert check_permission(viewer, "artist_earnings", "read")
    assert all(check_permission(viewer, "bookings", a) for a in ("create", "update", "delete"))
    assert not check_permission(viewer, "bookings", "approve")
    accountant = actor("ACCOUNTANT", permissions=["!reports:export", "!revenue:*"])
    assert not check_permission(accountant, "reports", "export")
    assert not check_permission(accountant, "revenue", "read")
    assert check_permission(accountant, "reports", "read")
    admin = actor("ORG_ADMIN", permissions=["!users:delete"])
    assert not check_permission(admin, "users", "delete") and check_permission(admin, "users", "create")


@pytest.mark.parametrize("entry", ["bookings", "nothing:read", "bookings:fly", "platform:read"])
def test_invalid_permission_entries_are_refused(entry):
    with pytest.raises(InvalidPermission):
        parse_permissions([entry])


def test_read_only_view_never_writes_or_runs_the_platform():
    viewing = actor("SUPER_ADMIN", read_only=True)
    assert check_permission(viewing, "bookings", "read")
    assert not check_permission(viewing, "bookings", "create")
    assert not check_permission(viewing, "platform", "read")
    granted = actor("VIEWER", permissions=["bookings:write"], read_only=True)
    assert not check_permission(granted, "bookings", "create")


def test_require_permission_raises_and_returns_the_scope():
    assert require_permission(actor("ORG_ADMIN"), "users", "read") is Scope.TENANT
    with pytest.raises(PermissionDenied, match="not allowed: create users"):
        require_permission(actor("VIEWER"), "users", "create")


def test_command_line_operators():
    assert check_permission(command_line_operator("t"), "users", "create")
    assert not check_permission(command_line_operator("t"), "platform", "create")
    assert check_permission(platform_operator(), "platform", "create")
