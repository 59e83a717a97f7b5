"""Your organization's webhooks: endpoints, signing-secret rotation, and the delivery log.

Deliveries are signed (``AuditoryX-Signature: t=…,v1=…``), retried with back-off from the
durable outbox (operational/outbox.py) by `auditoryx deliver` or the worker.
"""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from api.context import ApiContext, IdempotentRequest, Principal, get_context, idempotency_key, principal, run_write
from api.serialize import plain
from operational import webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class NewEndpoint(BaseModel):
    url: str = Field(max_length=2000)
    events: list[str] = Field(min_length=1, max_length=20,
                              description="booking.created, booking.updated, booking.cancelled, export.ready, or *")
    description: str | None = Field(None, max_length=500)


class EndpointChange(BaseModel):
    url: str | None = Field(None, max_length=2000)
    events: list[str] | None = Field(None, min_length=1, max_length=20)
    is_active: bool | None = None


@router.get("", summary="Your webhook endpoints (never their secrets)")
def list_endpoints(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return {"items": plain(webhooks.list_endpoints(context.engine, caller.actor))}


@router.post("", status_code=201, summary="Add an endpoint; its signing secret is in this answer")
def create(body: NewEndpoint, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context),
           idem: IdempotentRequest | None = Depends(idempotency_key)):
    def add() -> dict:
        view, secret = webhooks.create_endpoint(context.engine, caller.actor, url=body.url, events=body.events,
                                                description=body.description,
                                                allow_local_http=context.settings.webhook_allow_local_http)
        return {**plain(view), "secret": secret}
    return run_write(context, caller, idem, add, status_code=201)


@router.get("/deliveries", summary="The delivery log, newest first, with every attempt")
def delivery_log(endpoint_id: str | None = Query(None, max_length=36),
                 status: Literal["pending", "delivered", "dead"] | None = None,
                 limit: int = Query(50, ge=1, le=500), caller: Principal = Depends(principal),
                 context: ApiContext = Depends(get_context)) -> dict:
    return {"items": plain(webhooks.deliveries(context.engine, caller.actor, endpoint_id=endpoint_id, status=status,
                                               limit=limit))}


@router.post("/deliveries/{message_id}/redeliver", status_code=202, summary="Send a dead delivery again")
def redeliver(message_id: str, caller: Principal = Depends(principal),
              context: ApiContext = Depends(get_context)) -> dict:
    webhooks.redeliver(context.engine, caller.actor, message_id)
    return {"message_id": message_id, "status": "pending"}


@router.get("/{endpoint_id}", summary="One endpoint")
def read(endpoint_id: str, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return plain(webhooks.get_endpoint(context.engine, caller.actor, endpoint_id))


@router.patch("/{endpoint_id}", summary="Change an endpoint's URL, events or active flag")
def update(endpoint_id: str, body: EndpointChange, caller: Principal = Depends(principal),
           context: ApiContext = Depends(get_context)) -> dict:
    return plain(webhooks.update_endpoint(context.engine, caller.actor, endpoint_id, url=body.url, events=body.events,
                                          is_active=body.is_active,
                                          allow_local_http=context.settings.webhook_allow_local_http))


@router.delete("/{endpoint_id}", status_code=204, response_class=Response, summary="Remove an endpoint")
def delete(endpoint_id: str, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)):
    webhooks.delete_endpoint(context.engine, caller.actor, endpoint_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret",
             summary="A new signing secret; the old one keeps signing alongside for a grace period")
def rotate(endpoint_id: str, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    view, secret = webhooks.rotate_secret(context.engine, caller.actor, endpoint_id)
    return {**plain(view), "secret": secret}
