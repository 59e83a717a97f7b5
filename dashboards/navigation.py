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
    PageSpec("views/07_book.py", "Bookings", ":material/edit_calendar:", "bookings", Resource.BOOKINGS),
    PageSpec("views/08_bulk_booking.py", "Bulk booking", ":material/playlist_add:", "bulk-booking",
             Resource.BOOKINGS, Action.CREATE),
    PageSpec("views/06_calendar.py", "Calendar", ":material/calendar_month:", "calendar", Resource.CALENDAR),
    PageSpec("views/09_roster.py", "Roster", ":material/groups:", "roster", Resource.ROSTER),
    PageSpec("views/11_projects.py", "Projects", ":material/folder_open:", "projects", Resource.PROJECTS),
    PageSpec("views/10_reports.py", "Reports", ":material/summarize:", "reports", Resource.REPORTS),
    PageSpec("views/12_data_quality.py", "Data and quality", ":material/fact_check:", "data-quality",
             Resource.DATA_QUALITY),
    PageSpec("views/02_users.py", "Users", ":material/group:", "users", Resource.USERS),
    PageSpec("views/03_organization.py", "Organization settings", ":material/tune:", "organization",
             Resource.SETTINGS),
    PageSpec("views/04_platform.py", "Platform", ":material/domain:", "platform", Resource.PLATFORM),
)


def pages_for(actor: Actor) -> list[PageSpec]:
    """The pages ``actor`` may open, in menu order. "My bookings" is for those who see only their
    own bookings (creators, clients); "Bookings" (book and manage) for those who may book or who
    see the whole tenant's bookings (e.g. accountants, for payment status)."""
    from operational.permissions import Scope, scope_for

    tenant_wide = scope_for(actor, Resource.BOOKINGS, Action.READ) is Scope.TENANT
    visible = []
    for page in PAGES:
        if not check_permission(actor, page.resource, page.action):
            continue
        if page.url_path == "my-bookings" and tenant_wide:
            continue
        if page.url_path == "roster" and scope_for(actor, Resource.ROSTER, Action.READ) is not Scope.TENANT:
            continue  # creators see their own artist on their bookings and calendar
        if page.url_path == "bulk-booking" and not tenant_wide:
            continue  # many sessions across artists: for those who manage the tenant's bookings
        if page.url_path == "bookings" and not (tenant_wide or check_permission(actor, Resource.BOOKINGS,
                                                                                 Action.CREATE)):
            continue
        visible.append(page)
    return visible
