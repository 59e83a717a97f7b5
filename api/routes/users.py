"""Users of your organization and its artist roster."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.context import ApiContext, IdempotentRequest, Principal, get_context, idempotency_key, principal, run_write
from api.serialize import page_by_id, plain
from operational import roster, users

router = APIRouter(tags=["users"])


class NewUser(BaseModel):
    email: str = Field(max_length=254)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32)
    password: str | None = Field(None, max_length=1024)


class BulkUsers(BaseModel):
    users: list[NewUser] = Field(max_length=users.MAX_BULK_ROWS)


class RoleChange(BaseModel):
    role: str = Field(max_length=32)


CURSOR = Query(None, max_length=500)
LIMIT = Query(100, ge=1, le=500)


@router.get("/users", summary="Your organization's users (cursor pages)")
def list_users(cursor: str | None = CURSOR, limit: int = LIMIT, caller: Principal = Depends(principal),
               context: ApiContext = Depends(get_context)) -> dict:
    return page_by_id(users.list_tenant_users(context.engine, caller.actor), cursor, limit)


@router.post("/users/bulk", summary="Create many users: one result per row")
def bulk_create(body: BulkUsers, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context),
                idem: IdempotentRequest | None = Depends(idempotency_key)):
    rows = [user.model_dump(exclude_none=True) for user in body.users]
    return run_write(context, caller, idem, lambda: {"results": users.bulk_create_users(context.engine, caller.actor,
                                                                                       rows)})


@router.patch("/users/{user_id}/role", summary="Change a user's role")
def change_role(user_id: str, body: RoleChange, caller: Principal = Depends(principal),
                context: ApiContext = Depends(get_context)) -> dict:
    return plain(users.change_role(context.engine, caller.actor, user_id, body.role))


@router.get("/artists", summary="Your artist roster (cursor pages)")
def list_artists(include_inactive: bool = False, cursor: str | None = CURSOR, limit: int = LIMIT,
                 caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return page_by_id(roster.list_artists(context.engine, caller.actor, include_inactive=include_inactive), cursor,
                      limit)
