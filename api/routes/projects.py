"""Projects: create (with milestones), overview (health from the last refresh, live milestones),
and milestone updates."""
from __future__ import annotations

import datetime as dt
import decimal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.context import ApiContext, IdempotentRequest, Principal, get_context, idempotency_key, principal, run_write
from api.serialize import decode_cursor, encode_cursor, page, plain
from operational import projects

router = APIRouter(prefix="/projects", tags=["projects"])


class NewMilestone(BaseModel):
    title: str = Field(max_length=200)
    description: str | None = Field(None, max_length=5000)
    due_date: dt.date | None = None
    status: str = Field("PENDING", max_length=32)


class NewProject(BaseModel):
    name: str = Field(max_length=200)
    type: str = Field(max_length=32)
    status: str = Field("PLANNING", max_length=32)
    priority: str = Field("MEDIUM", max_length=16)
    description: str | None = Field(None, max_length=5000)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    deadline: dt.date | None = None
    budget: decimal.Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=2)
    currency: str = Field("USD", max_length=3)
    client_name: str | None = Field(None, max_length=200)
    milestones: list[NewMilestone] = Field(default_factory=list, max_length=projects.MAX_MILESTONES)


class MilestoneChange(BaseModel):
    status: str | None = Field(None, max_length=32)
    due_date: dt.date | None = None
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)


@router.post("", status_code=201, summary="Create a project, with its first milestones")
def create(body: NewProject, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context),
           idem: IdempotentRequest | None = Depends(idempotency_key)):
    values = body.model_dump(exclude={"milestones"})
    milestones = [m.model_dump() for m in body.milestones]
    return run_write(context, caller, idem, lambda: projects.create_project(
        context.engine, caller.actor, **values, milestones=milestones), status_code=201)


@router.get("", summary="Projects (cursor pages)")
def list_projects(status: str | None = Query(None, max_length=32), cursor: str | None = Query(None, max_length=500),
                  limit: int = Query(100, ge=1, le=500), caller: Principal = Depends(principal),
                  context: ApiContext = Depends(get_context)) -> dict:
    after = decode_cursor(cursor, 1)[0] if cursor else None
    items = projects.list_projects(context.engine, caller.actor, limit=limit + 1, after_id=after, status=status)
    return page(items, limit, lambda last: encode_cursor(last.id))


@router.get("/{project_id}", summary="A project's overview: milestones now, health as of the last refresh")
def overview(project_id: str, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    project = projects.get_project(context.engine, caller.actor, project_id)
    return {**plain(project), "health": context.analytics.project_health(caller.actor, project.id)}


@router.patch("/{project_id}/milestones/{milestone_id}", summary="Update a milestone (status, due date, text)")
def update_milestone(project_id: str, milestone_id: str, body: MilestoneChange,
                     caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return plain(projects.update_milestone(context.engine, caller.actor, project_id, milestone_id,
                                           **body.model_dump(exclude_none=True)))
