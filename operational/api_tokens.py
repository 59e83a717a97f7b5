"""Short-lived signed API tokens for people: a user who logged in may call the API as themselves.

A token is ``axt_<payload>.<signature>``: the payload (base64url JSON) names the user, their
organization and the expiry; the signature is HMAC-SHA256 with the server's token secret. The
token only says who; what they may do is read from the database on every request (a role change
or deactivation applies at once). Pure functions: no database, no settings.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from auditoryx.errors import AuditoryxError

TOKEN_PREFIX = "axt_"
DEFAULT_TTL_SECONDS = 15 * 60
MAX_TTL_SECONDS = 60 * 60


class InvalidToken(AuditoryxError):
    """A token that is malformed, forged or expired (one message for all)."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    tenant_id: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def issue_token(secret: bytes, *, user_id: str, tenant_id: str, ttl_seconds: int = DEFAULT_TTL_SECONDS,
                now: float | None = None) -> tuple[str, float]:
    """A token for this user in this organization, and its expiry (seconds since the epoch)."""
    if len(secret) < 32:
        raise ValueError("the token secret must hold at least 32 bytes")
    ttl = max(1, min(int(ttl_seconds), MAX_TTL_SECONDS))
    expires = float(int((time.time() if now is None else now) + ttl))
    payload = _b64(json.dumps({"sub": user_id, "org": tenant_id, "exp": expires},
                              separators=(",", ":")).encode())
    return f"{TOKEN_PREFIX}{payload}.{_signature(secret, payload)}", expires


def verify_token(secret: bytes, token: str, *, now: float | None = None) -> TokenClaims:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 2048:
        raise InvalidToken("invalid or expired token")
    payload, _, signature = token[len(TOKEN_PREFIX):].partition(".")
    if not payload or not hmac.compare_digest(signature, _signature(secret, payload)):
        raise InvalidToken("invalid or expired token")
    try:
        claims = json.loads(_unb64(payload))
        result = TokenClaims(user_id=str(claims["sub"]), tenant_id=str(claims["org"]),
                             expires_at=float(claims["exp"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("invalid or expired token") from None
    if result.expires_at <= (time.time() if now is None else now):
        raise InvalidToken("invalid or expired token")
    return result
