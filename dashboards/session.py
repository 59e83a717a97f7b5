"""Who is logged in: the only source of the tenant id the dashboards may query.

A login starts a server-side session (``operational.auth``). Its random token is kept in
``st.session_state`` for this browser tab and, through ``/auth/session`` (dashboards/server.py,
which swaps a one-time claim code for it: the page never holds the token), in an HttpOnly cookie
so that a reload stays logged in. Every rerun resumes the session from the
database: logout, deactivation, a role change or expiry end it at the next interaction. The
tenant comes from that record only; never from query parameters, form fields or page state.
"""
from __future__ import annotations

import json
import logging

import streamlit as st
from sqlalchemy import Engine

from dashboards.session_engine import session_limits, web_engine
from operational import auth
from operational.auth import SessionUser

TOKEN_KEY = "auditoryx_session_token"
USER_KEY = "auditoryx_user"
DEAD_TOKEN_KEY = "auditoryx_dead_token"
COOKIE_NAME = "auditoryx_session"
LOGIN_ERROR = "Invalid email or password."
LOGIN_THROTTLED = "Too many failed attempts. Please wait {wait} before trying again."
LOGIN_UNAVAILABLE = "Login is unavailable right now. Please try again later."
ENDED_NOTICE = "Your session has ended. Please log in again."

log = logging.getLogger(__name__)


def engine() -> Engine:
    """The web tier's operational database (a row-level-security role on PostgreSQL)."""
    return web_engine()


def _cookie_token() -> str | None:
    try:
        token = st.context.cookies.get(COOKIE_NAME)
    except Exception:  # noqa: BLE001 - no browser context (e.g. AppTest)
        return None
    return token if isinstance(token, str) else None


def client_address() -> str | None:
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001
        return None
    return address if isinstance(address, str) else None


def current_token() -> str | None:
    return st.session_state.get(TOKEN_KEY) or _cookie_token()


def current_user() -> SessionUser | None:
    """The user of the live session, re-checked against the database on every rerun."""
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        cookie = _cookie_token()
        token = cookie if cookie and cookie != st.session_state.get(DEAD_TOKEN_KEY) else None
    if not token:
        return None
    try:
        user = auth.resume_session(engine(), token, limits=session_limits())
    except Exception:  # the database is down: treat as logged out, say why in the log
        log.exception("session check failed")
        user = None
    if user is None:
        if TOKEN_KEY in st.session_state:  # a live session ended: forget everything it showed
            st.session_state.clear()
            st.session_state["auditoryx_notice"] = ENDED_NOTICE
        st.session_state[DEAD_TOKEN_KEY] = token  # a stale cookie: not asked again in this tab
        return None
    st.session_state[TOKEN_KEY] = token
    st.session_state[USER_KEY] = user
    return user


def require_user() -> SessionUser:
    """The logged-in user (checked by the router in this same rerun); stops the page otherwise."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, SessionUser):
        user = current_user()
    if user is None:
        st.warning("Please log in.")
        st.stop()
    return user


def require(resource, action="read"):
    """The logged-in user, if the permission module lets them do this; otherwise the page stops
    with a message (pages call this first, whatever the menu showed)."""
    from operational.permissions import check_permission

    user = require_user()
    if not check_permission(user.actor(), resource, action):
        st.error("You do not have access to this page.", icon=":material/lock:")
        st.stop()
    return user


def allowed(user: SessionUser, resource, action="read") -> bool:
    """Widgets ask this before showing what needs a permission."""
    from operational.permissions import check_permission

    return check_permission(user.actor(), resource, action)


def _wait_text(seconds: float) -> str:
    seconds = max(1, round(seconds))
    return f"{seconds} seconds" if seconds < 120 else f"{round(seconds / 60)} minutes"


def log_in(email: str, password: str, *, tenant_id: str | None = None) -> tuple[SessionUser | None, str | None]:
    """Check the credentials and start a session. Returns (user, error message).

    ``tenant_id``: the tenant the login page is branded for (by host); a user of another tenant is
    refused there with the same message as a wrong password."""
    try:
        result = auth.authenticate(engine(), email, password, client_address=client_address(), tenant_id=tenant_id)
        if result.throttled:
            return None, LOGIN_THROTTLED.format(wait=_wait_text(result.retry_after_seconds))
        user = result.user
        if user is None:
            return None, LOGIN_ERROR
        token = auth.start_session(engine(), user, limits=session_limits(), client_address=client_address())
    except Exception:  # the database is down or misconfigured: say so without details
        log.exception("login failed with an error")
        return None, LOGIN_UNAVAILABLE
    st.session_state.clear()  # nothing from the anonymous session survives the login
    st.session_state[TOKEN_KEY] = token
    st.session_state[USER_KEY] = user
    st.session_state["auditoryx_claim_cookie"] = True
    return user, None


def log_out() -> None:
    """End the session in the database (every tab and process), then forget it here."""
    token = current_token()
    try:
        auth.end_session(engine(), token)
    except Exception:  # noqa: BLE001 - the cookie is cleared below anyway
        log.exception("logout could not reach the database")
    st.session_state.clear()
    st.session_state["auditoryx_clear_cookie"] = True
    if token:
        st.session_state[DEAD_TOKEN_KEY] = token


def leave_tenant() -> None:
    """An operator's read-only view of another tenant ends; back to their own organization."""
    user = st.session_state.get(USER_KEY)
    token = current_token()
    if isinstance(user, SessionUser) and token:
        auth.view_tenant(engine(), token, user, None)
    st.session_state.pop(USER_KEY, None)


def sync_cookie() -> None:
    """Hand the session token to the HttpOnly cookie after a login, or clear it after a logout
    (a same-origin POST to dashboards/server.py's routes; the script itself cannot set cookies)."""
    if st.session_state.pop("auditoryx_claim_cookie", False) and TOKEN_KEY in st.session_state:
        from dashboards import cookie_claims

        _post("session", json.dumps({"code": cookie_claims.register(st.session_state[TOKEN_KEY])}))
    elif st.session_state.pop("auditoryx_clear_cookie", False):
        _post("logout", "{}")


def _post(route: str, body: str) -> None:
    """A same-origin POST from the page; the script element removes itself once sent."""
    script = (f"<script>fetch('/auth/{route}', {{method: 'POST', credentials: 'same-origin', "
              f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}}); "
              "document.currentScript && document.currentScript.remove();</script>")
    st.html(script, unsafe_allow_javascript=True)
