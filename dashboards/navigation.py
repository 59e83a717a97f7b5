"""Which pages a user sees: each page names the permission it needs (pure, tested without UI)."""
from __future__ import annotations

from dataclasses import dataclass

from operational.permissions import Action, Actor, Resource, check_permission


@dataclass(frozen=True)
class PageSpec:
    script: str        # relative to dashboards/
    title: str
    icon: str
    url_path: str
    resource: Resource
    action: Action = Action.READ


PAGES = (
    PageSpec("views/01_label_dashboard.py", "Label dashboard", ":material/insights:", "dashboard",
             Resource.ANALYTICS),
    PageSpec("views/05_my_bookings.py", "My bookings", ":material/event:", "my-bookings", Resource.BOOKINGS),
    PageSpec("views/02_users.py", "Users", ":material/group:", "users", Resource.USERS),
    PageSpec("views/03_organization.py", "Organization settings", ":material/tune:", "organization",
             Resource.SETTINGS),
    PageSpec("views/04_platform.py", "Platform", ":material/domain:", "platform", Resource.PLATFORM),
)


def pages_for(actor: Actor) -> list[PageSpec]:
    """The pages ``actor`` may open, in menu order. "My bookings" is for those who see only their
    own bookings (creators, clients); others reach bookings through the dashboard and calendar."""
    from operational.permissions import Scope, scope_for

    visible = []
    for page in PAGES:
        if not check_permission(actor, page.resource, page.action):
            continue
        if page.url_path == "my-bookings" and scope_for(actor, Resource.BOOKINGS, Action.READ) is Scope.TENANT:
            continue
        visible.append(page)
    return visible
