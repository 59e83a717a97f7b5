"""Who is logged in: the only source of the tenant id the dashboards may query.

The tenant comes from :class:`operational.auth.SessionUser` stored in ``st.session_state``
after a successful password check; never from query parameters, form fields or page state.
"""
from __future__ import annotations

import logging

import streamlit as st
from sqlalchemy import Engine

from auditoryx.settings import get_settings
from operational.auth import SessionUser, authenticate
from operational.db import make_engine

USER_KEY = "auditoryx_user"
LOGIN_ERROR = "Invalid email or password."
LOGIN_UNAVAILABLE = "Login is unavailable right now. Please try again later."

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def current_user() -> SessionUser | None:
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, SessionUser) else None


def require_user() -> SessionUser:
    """The logged-in user; stops the page (after a notice) when nobody is logged in."""
    user = current_user()
    if user is None:
        st.warning("Please log in.")
        st.stop()
    return user


def log_in(email: str, password: str) -> tuple[SessionUser | None, str | None]:
    """Check the credentials; on success remember the user. Returns (user, error message)."""
    try:
        user = authenticate(_engine(get_settings().operational_database_url), email, password)
    except Exception:  # the database is down or misconfigured: say so without details
        log.exception("login failed with an error")
        return None, LOGIN_UNAVAILABLE
    if user is None:
        return None, LOGIN_ERROR
    st.session_state.clear()  # nothing from the anonymous session survives the login
    st.session_state[USER_KEY] = user
    return user, None


def log_out() -> None:
    st.session_state.clear()
