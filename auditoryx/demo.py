"""What `auditoryx demo` tells a newcomer: whether the port is free, and one login per role."""
from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine

from operational.enums import UserRole
from operational.models import User

ROLE_ORDER = tuple(role.value for role in UserRole)


@dataclass(frozen=True)
class DemoLogin:
    tenant: str
    role: str
    email: str


def port_problem(port: int, address: str = "0.0.0.0") -> str | None:
    """None when the dashboard can listen on ``port``, else one line saying how to choose another."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will (TIME_WAIT is fine)
        try:
            probe.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"port {port} is already in use (another `make demo` or server?): stop it, or choose "
                        f"another port with `make demo PORT={port + 1}` (or `auditoryx demo --port {port + 1}`)")
            return f"cannot listen on {address}:{port}: {exc.strerror or exc}"
    return None


def one_login_per_role(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(role, email) rows of one tenant → the first email (alphabetically) of each role, in the
    permission matrix's role order."""
    first: dict[str, str] = {}
    for role, email in rows:
        role = getattr(role, "value", role)
        if role not in first or email < first[role]:
            first[role] = email
    rank = {role: position for position, role in enumerate(ROLE_ORDER)}
    return sorted(first.items(), key=lambda item: rank.get(item[0], len(rank)))


def demo_logins(engine: Engine, tenants: Sequence[tuple[str, str]]) -> list[DemoLogin]:
    """One active login per role of each ``(tenant id, tenant name)``."""
    logins: list[DemoLogin] = []
    with engine.connect() as conn:
        for tenant_id, tenant_name in tenants:
            rows = conn.execute(select(User.role, User.email).where(User.org_id == tenant_id, User.is_active))
            logins += [DemoLogin(tenant_name, role, email) for role, email in one_login_per_role(rows)]
    return logins


def format_logins(logins: Sequence[DemoLogin], password: str) -> list[str]:
    """The lines printed after the demo: tenant headings, then role and email, aligned."""
    lines = [f"Demo logins (every password: {password})"]
    width = max((len(login.role) for login in logins), default=0)
    tenant = None
    for login in logins:
        if login.tenant != tenant:
            tenant = login.tenant
            lines.append(f"  {tenant}")
        lines.append(f"    {login.role.replace('_', ' ').lower():<{width}}  {login.email}")
    return lines
