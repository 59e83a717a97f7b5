"""Projects and their milestones: create, read, and move a milestone along.

Writes need ``projects: create`` / ``projects: update``, reads ``projects: read``; every write is
audited through the tenant repository. Values are checked here, once, for every front door.
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational.enums import MilestoneStatus, Priority, ProjectStatus, ProjectType
from operational.models import Project, ProjectMilestone, validate_currency
from operational.permissions import Action, Actor, Resource, require_permission
from operational.repository import NotFoundError, TenantRepository, write_transaction

MAX_NAME_LENGTH = 200
MAX_MILESTONES = 200


class InvalidProject(AuditoryxError):
    """Project or milestone input that cannot be stored (the message names the field)."""


@dataclass(frozen=True)
class MilestoneView:
    id: str
    title: str
    description: str | None
    due_date: dt.date | None
    status: str
    sort_order: int
    completed_at: dt.datetime | None

    @classmethod
    def of(cls, milestone: ProjectMilestone) -> MilestoneView:
        return cls(milestone.id, milestone.title, milestone.description, milestone.due_date, str(milestone.status),
                   int(milestone.sort_order or 0), milestone.completed_at)


@dataclass(frozen=True)
class ProjectView:
    id: str
    name: str
    description: str | None
    type: str
    status: str
    priority: str
    start_date: dt.date | None
    end_date: dt.date | None
    deadline: dt.date | None
    budget: decimal.Decimal | None
    spent: decimal.Decimal
    currency: str
    client_name: str | None
    milestones: tuple[MilestoneView, ...] = ()

    @classmethod
    def of(cls, project: Project, milestones=()) -> ProjectView:
        return cls(project.id, project.name, project.description, str(project.type), str(project.status),
                   str(project.priority), project.start_date, project.end_date, project.deadline, project.budget,
                   project.spent, project.currency, project.client_name,
                   tuple(MilestoneView.of(m) for m in milestones))


def _text(value: Any, what: str, *, required: bool = True, limit: int = MAX_NAME_LENGTH) -> str | None:
    text = " ".join(str(value or "").split())
    if not text:
        if required:
            raise InvalidProject(f"{what}: required")
        return None
    if len(text) > limit:
        raise InvalidProject(f"{what}: at most {limit} characters")
    return text


def _choice(enum_cls, value: Any, what: str):
    try:
        return enum_cls(str(value).strip().upper())
    except ValueError:
        raise InvalidProject(f"{what}: one of {', '.join(enum_cls)}") from None


def _money(value: Any, what: str) -> decimal.Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise InvalidProject(f"{what}: not an amount") from None
    if not amount.is_finite() or amount < 0 or amount >= decimal.Decimal("1e16"):
        raise InvalidProject(f"{what}: a non-negative amount")
    if amount != amount.quantize(decimal.Decimal("0.01")):
        raise InvalidProject(f"{what}: at most two decimals")
    return amount


def _date(value: Any, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidProject(f"{what}: a date (YYYY-MM-DD)") from None


def _repo(session: Session, actor: Actor) -> TenantRepository:
    return TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)


def create_project(engine: Engine, actor: Actor, *, name: str, type: str, status: str = ProjectStatus.PLANNING,
                   priority: str = Priority.MEDIUM, description: str | None = None,
                   start_date: Any = None, end_date: Any = None, deadline: Any = None, budget: Any = None,
                   currency: str = "USD", client_name: str | None = None,
                   milestones: list[dict[str, Any]] | None = None) -> ProjectView:
    """A new project (with its first milestones, if given) in one audited transaction."""
    require_permission(actor, Resource.PROJECTS, Action.CREATE)
    values = dict(
        name=_text(name, "name"), description=_text(description, "description", required=False, limit=5000),
        type=_choice(ProjectType, type, "type"), status=_choice(ProjectStatus, status, "status"),
        priority=_choice(Priority, priority, "priority"), start_date=_date(start_date, "start_date"),
        end_date=_date(end_date, "end_date"), deadline=_date(deadline, "deadline"),
        budget=_money(budget, "budget"), client_name=_text(client_name, "client_name", required=False))
    try:
        values["currency"] = validate_currency(str(currency or "").strip().upper())
    except ValueError as exc:
        raise InvalidProject(f"currency: {exc}") from None
    if values["start_date"] and values["end_date"] and values["end_date"] < values["start_date"]:
        raise InvalidProject("end_date: before start_date")
    drafts = [_milestone_values(item, index) for index, item in enumerate(milestones or ())]
    if len(drafts) > MAX_MILESTONES:
        raise InvalidProject(f"milestones: at most {MAX_MILESTONES}")
    with write_transaction(engine, actor.tenant_id, actor_id=actor.user_id,
                           actor_key_id=actor.api_key_id) as (_session, repo):
        project = repo.add(Project, **values, created_by_id=actor.user_id)
        added = [repo.add(ProjectMilestone, project_id=project.id, **draft) for draft in drafts]
        return ProjectView.of(project, added)


def _milestone_values(item: dict[str, Any], index: int) -> dict[str, Any]:
    status = _choice(MilestoneStatus, item.get("status") or MilestoneStatus.PENDING, "milestone status")
    return dict(title=_text(item.get("title"), "milestone title"),
                description=_text(item.get("description"), "milestone description", required=False, limit=5000),
                due_date=_date(item.get("due_date"), "milestone due_date"), status=status,
                sort_order=int(item.get("sort_order", index)),
                completed_at=dt.datetime.now(dt.timezone.utc) if status is MilestoneStatus.COMPLETED else None)


def get_project(engine: Engine, actor: Actor, project_id: str) -> ProjectView:
    """The project and its milestones in order (NotFoundError for an id of no project here)."""
    require_permission(actor, Resource.PROJECTS, Action.READ)
    with Session(engine) as session:
        repo = _repo(session, actor)
        project = repo.require(Project, project_id)
        milestones = repo.list(ProjectMilestone, ProjectMilestone.project_id == project.id,
                               order_by=(ProjectMilestone.sort_order, ProjectMilestone.due_date, ProjectMilestone.id))
        return ProjectView.of(project, milestones)


def list_projects(engine: Engine, actor: Actor, *, limit: int | None = None, after_id: str | None = None,
                  status: str | None = None) -> list[ProjectView]:
    """Projects by id (stable for cursor pages), without milestones."""
    require_permission(actor, Resource.PROJECTS, Action.READ)
    criteria = []
    if after_id:
        criteria.append(Project.id > after_id)
    if status:
        criteria.append(Project.status == _choice(ProjectStatus, status, "status"))
    with Session(engine) as session:
        return [ProjectView.of(p) for p in _repo(session, actor).list(Project, *criteria, order_by=Project.id,
                                                                        limit=limit)]


def update_milestone(engine: Engine, actor: Actor, project_id: str, milestone_id: str, *,
                     status: str | None = None, due_date: Any = None, title: str | None = None,
                     description: str | None = None) -> MilestoneView:
    """Change a milestone of a project (completing it stamps ``completed_at``)."""
    require_permission(actor, Resource.PROJECTS, Action.UPDATE)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _text(title, "title")
    if description is not None:
        changes["description"] = _text(description, "description", required=False, limit=5000)
    if due_date is not None:
        changes["due_date"] = _date(due_date, "due_date")
    if status is not None:
        changes["status"] = _choice(MilestoneStatus, status, "status")
    if not changes:
        raise InvalidProject("nothing to change: give status, due_date, title or description")
    with write_transaction(engine, actor.tenant_id, actor_id=actor.user_id,
                           actor_key_id=actor.api_key_id) as (_session, repo):
        milestone = repo.require(ProjectMilestone, milestone_id)
        if milestone.project_id != repo.require(Project, project_id).id:
            raise NotFoundError(f"no milestone {milestone_id!r} in project {project_id!r}")
        if "status" in changes:
            done = changes["status"] is MilestoneStatus.COMPLETED
            if done and str(milestone.status) != MilestoneStatus.COMPLETED:
                changes["completed_at"] = dt.datetime.now(dt.timezone.utc)
            elif not done:
                changes["completed_at"] = None
        return MilestoneView.of(repo.update(ProjectMilestone, milestone_id, **changes))
