"""Analytics from the tenant's published snapshot: the label dashboard's numbers."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.context import ApiContext, Principal, get_context, principal

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get("/dashboard", summary="The label dashboard's numbers (KPIs, revenue by month and type, top performers)")
async def dashboard(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> Response:
    # the answer of the current version is usually cached: serve it without a thread-pool hop;
    # computing it (once per version) reads the snapshot, which happens off the event loop
    body = context.analytics.cached_dashboard_json(caller.actor)
    if body is None:
        body = await run_in_threadpool(context.analytics.dashboard_json, caller.actor)
    return Response(body, media_type="application/json")
