"""Analytics from the tenant's published snapshot: the label dashboard's numbers."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from api.context import ApiContext, Principal, get_context, principal

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get("/dashboard", summary="The label dashboard's numbers (KPIs, revenue by month and type, top performers)")
def dashboard(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return context.analytics.dashboard(caller.actor)
