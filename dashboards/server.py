"""The dashboards' web server: Streamlit (dashboards/app.py) plus two cookie routes.

`streamlit run dashboards/server.py` (what `auditoryx serve` does) serves the app through
Streamlit's ASGI ``st.App`` with:

- ``POST /auth/session`` ``{"code": …}``: right after a login the page posts a one-time claim code
  (dashboards/cookie_claims.py: single use, 60 s); if it names a live session, the answer sets
  that session's token as an HttpOnly, SameSite=Strict cookie (Secure over HTTPS), which every
  later page load and reload carries. The token itself never reaches the page;
- ``POST /auth/logout``: ends the session named by the cookie and clears the cookie.

Both refuse cross-site requests (the Origin header must match the Host). The cookie holds only a
random token; the session itself (user, expiry, revocation) lives in the operational database.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

COOKIE_NAME = "auditoryx_session"


def _engine():
    from dashboards.session_engine import web_engine

    return web_engine()


def _limits():
    from dashboards.session_engine import session_limits

    return session_limits()


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc == request.headers.get("host")


async def claim_session(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from operational.auth import resume_session

    if not _same_origin(request):
        return JSONResponse({"error": "cross-site request refused"}, status_code=403)
    from dashboards.cookie_claims import redeem

    try:
        token = redeem(str((await request.json()).get("code") or ""))
    except (ValueError, AttributeError):
        return JSONResponse({"error": "expected JSON"}, status_code=400)
    user = None if token is None else await run_in_threadpool(resume_session, _engine(), token, limits=_limits())
    if user is None:
        return JSONResponse({"error": "no such session"}, status_code=401)
    response = JSONResponse({"ok": True})
    response.set_cookie(COOKIE_NAME, token, max_age=int(_limits().absolute.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from operational.auth import end_session

    if not _same_origin(request):
        return JSONResponse({"error": "cross-site request refused"}, status_code=403)
    token = request.cookies.get(COOKIE_NAME)
    if token:
        await run_in_threadpool(end_session, _engine(), token)
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


def _warm_up() -> None:
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:  # as app.py: `streamlit run` puts dashboards/ on the path, not the project
        sys.path.insert(0, root)
    from dashboards.preload import warm_python_modules

    warm_python_modules()


app = st.App("app.py", routes=[
    Route("/auth/session", claim_session, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
])
_warm_up()  # the pages' modules import while the server starts and the first person logs in
