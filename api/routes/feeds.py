"""Calendar feeds for calendar apps: ``GET /feeds/<token>.ics`` (the token is the credential)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.context import ApiContext, get_context
from operational import feeds
from operational.ics import MEDIA_TYPE

router = APIRouter(tags=["feeds"])


@router.get("/feeds/{token}.ics", summary="An artist's or organization's bookings as iCalendar",
            response_class=Response)
def feed(token: str, context: ApiContext = Depends(get_context)) -> Response:
    body = feeds.feed_ics(context.engine, token)
    return Response(body, media_type=MEDIA_TYPE, headers={"Cache-Control": "private, max-age=300"})
