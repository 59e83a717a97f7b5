"""Users of your organization and its artist roster."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.context import ApiContext, IdempotentRequest, Principal, get_context, idempotency_key, principal, run_write
from api.serialize import plain
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


@router.get("/users", summary="Your organization's users")
def list_users(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return {"items": plain(users.list_tenant_users(context.engine, caller.actor))}


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


@router.get("/artists", summary="Your artist roster")
def list_artists(include_inactive: bool = False, caller: Principal = Depends(principal),
                 context: ApiContext = Depends(get_context)) -> dict:
    return {"items": plain(roster.list_artists(context.engine, caller.actor, include_inactive=include_inactive))}
