"""API keys of your organization (organization settings: update) and calendar-feed tokens."""
from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.context import ApiContext, IdempotentRequest, Principal, get_context, idempotency_key, principal, run_write
from api.serialize import plain
from operational import api_keys, feeds
from operational.permissions import API_SCOPES

router = APIRouter(tags=["settings"])


class NewKey(BaseModel):
    name: str = Field(max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=len(API_SCOPES),
                              description="Among: " + ", ".join(API_SCOPES))
    expires_at: dt.datetime | None = None


class FeedRequest(BaseModel):
    artist_id: str | None = Field(None, max_length=36, description="None: the whole organization's calendar")


def _with_secret(summary, secret: str, name: str) -> dict:
    return {**plain(summary), name: secret}


@router.get("/api-keys", summary="Your organization's API keys (never their secrets)")
def list_keys(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return {"items": plain(api_keys.list_keys(context.engine, caller.actor))}


@router.post("/api-keys", status_code=201, summary="Create an API key: its secret is in this answer only")
def create_key(body: NewKey, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context),
               idem: IdempotentRequest | None = Depends(idempotency_key)):
    return run_write(context, caller, idem, lambda: _with_secret(*api_keys.create_key(
        context.engine, caller.actor, name=body.name, scopes=body.scopes, expires_at=body.expires_at), "secret"),
        status_code=201)


@router.post("/api-keys/{key_id}/revoke", summary="Revoke an API key at once")
def revoke_key(key_id: str, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return plain(api_keys.revoke_key(context.engine, caller.actor, key_id))


@router.post("/calendar-feeds", status_code=201,
             summary="A new secret calendar-feed URL (an artist's or the organization's); the previous one stops")
def rotate_feed(body: FeedRequest, caller: Principal = Depends(principal),
                context: ApiContext = Depends(get_context)) -> dict:
    summary, token = feeds.rotate_feed(context.engine, caller.actor, artist_id=body.artist_id)
    return {**plain(summary), "token": token, "path": f"/feeds/{token}.ics"}
