"""People's short-lived API tokens: log in with e-mail and password (throttled like the app)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.context import ApiContext, get_context
from api.problems import RateLimited, Unauthorized
from operational.api_tokens import issue_token
from operational.auth import authenticate

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenRequest(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


@router.post("/token", summary="A short-lived token for a person (Bearer), carrying their organization")
def create_token(body: TokenRequest, request: Request, context: ApiContext = Depends(get_context)) -> dict:
    client = request.client.host if request.client else None
    result = authenticate(context.engine, body.email, body.password, client_address=client)
    if result.throttled:
        raise RateLimited(result.retry_after_seconds)
    if result.user is None:
        raise Unauthorized("wrong e-mail or password")
    ttl = int(context.settings.api_token_minutes * 60)
    token, expires = issue_token(context.token_secret, user_id=result.user.user_id,
                                 tenant_id=result.user.tenant_id, ttl_seconds=ttl)
    return {"token": token, "token_type": "Bearer", "expires_in": ttl,
            "organization": {"id": result.user.tenant_id, "slug": result.user.tenant_slug}}
