"""Organizations: your own (anyone), and every organization for platform operators (SUPER_ADMIN)."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.context import ApiContext, IdempotentRequest, Principal, get_context, idempotency_key, principal, run_write
from api.serialize import plain
from operational import organizations as service
from operational.repository import NotFoundError

router = APIRouter(tags=["organizations"])


class NewOrganization(BaseModel):
    name: str = Field(max_length=200)
    slug: str = Field(max_length=63)
    type: str = Field(max_length=32)
    plan: str = Field(max_length=32)
    base_currency: str = Field("USD", max_length=3)
    time_zone: str = Field("UTC", max_length=64)
    admin_email: str = Field(max_length=254)
    admin_name: str = Field(max_length=200)
    admin_password: str | None = Field(None, max_length=1024)


class OrganizationChange(BaseModel):
    plan: str | None = Field(None, max_length=32)
    is_active: bool | None = None


@router.get("/organization", summary="Your own organization")
def own(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return plain(service.own_organization(context.engine, caller.actor))


@router.get("/organizations", summary="Every organization (SUPER_ADMIN)")
def list_all(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return {"items": plain(service.list_organizations(context.engine, caller.actor))}


def _find(context: ApiContext, caller: Principal, organization_id: str):
    for summary in service.list_organizations(context.engine, caller.actor):
        if summary.id == organization_id:
            return summary
    raise NotFoundError(f"no organization {organization_id!r}")


@router.get("/organizations/{organization_id}", summary="One organization (SUPER_ADMIN)")
def read(organization_id: str, caller: Principal = Depends(principal),
         context: ApiContext = Depends(get_context)) -> dict:
    return plain(_find(context, caller, organization_id))


@router.post("/organizations", status_code=201, summary="Create an organization and its first ORG_ADMIN (SUPER_ADMIN)")
def create(body: NewOrganization, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context),
           idem: IdempotentRequest | None = Depends(idempotency_key)):
    return run_write(context, caller, idem, lambda: service.create_organization(
        context.engine, caller.actor, body.name, body.slug, body.type, body.plan, body.base_currency,
        body.time_zone, body.admin_email, body.admin_name, body.admin_password), status_code=201)


@router.patch("/organizations/{organization_id}", summary="Change an organization's plan or active flag (SUPER_ADMIN)")
def update(organization_id: str, body: OrganizationChange, caller: Principal = Depends(principal),
           context: ApiContext = Depends(get_context)) -> dict:
    result = None
    if body.plan is not None:
        result = service.change_plan(context.engine, caller.actor, organization_id, body.plan)
    if body.is_active is not None:
        change = service.reactivate_organization if body.is_active else service.deactivate_organization
        result = change(context.engine, caller.actor, organization_id)
    return plain(result if result is not None else _find(context, caller, organization_id))


@router.post("/organizations/{organization_id}/deactivate", summary="Deactivate an organization (SUPER_ADMIN)")
def deactivate(organization_id: str, caller: Principal = Depends(principal),
               context: ApiContext = Depends(get_context)) -> dict:
    return plain(service.deactivate_organization(context.engine, caller.actor, organization_id))
