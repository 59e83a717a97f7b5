"""One-time claim codes that hand a new session's token to the HttpOnly cookie route.

The page never carries the session token itself: right after a login the script registers the
token here under a random, single-use code that lives 60 seconds, and the page posts only that
code to ``/auth/session`` (dashboards/server.py), which swaps it for the cookie. Both run in the
Streamlit server process (the script and the route share this module): one process serves a
browser session's websocket and its requests, as ``auditoryx serve`` runs it.
"""
from __future__ import annotations

import secrets
import threading
import time

CLAIM_SECONDS = 60.0

_lock = threading.Lock()
_claims: dict[str, tuple[str, float]] = {}


def register(token: str, *, now: float | None = None) -> str:
    """A fresh code for ``token``; expired codes are dropped on the way."""
    now = time.monotonic() if now is None else now
    code = secrets.token_urlsafe(24)
    with _lock:
        for stale in [c for c, (_, expires) in _claims.items() if expires <= now]:
            del _claims[stale]
        _claims[code] = (token, now + CLAIM_SECONDS)
    return code


def redeem(code: str, *, now: float | None = None) -> str | None:
    """The token of a live code, once; None for an unknown, used or expired code."""
    now = time.monotonic() if now is None else now
    with _lock:
        token, expires = _claims.pop(code, (None, 0.0))
    return token if token is not None and expires > now else None
