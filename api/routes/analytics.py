"""Analytics from the tenant's published snapshot: the label dashboard's numbers."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.context import ApiContext, Principal, get_context, principal

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get("/dashboard", summary="The label dashboard's numbers (KPIs, revenue by month and type, top performers)")
def dashboard(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> Response:
    return Response(context.analytics.dashboard_json(caller.actor), media_type="application/json")
