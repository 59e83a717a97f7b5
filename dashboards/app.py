"""AuditoryX Analytics: Streamlit entry point (`streamlit run dashboards/app.py`).

Routes only: a login page for anonymous sessions; the tenant's pages once logged in.

Page files live in ``views/`` (not ``pages/``), so Streamlit's legacy "pages/ folder" mode never
runs a page without this router; every page still starts with ``session.require_user()``.
"""
from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # `streamlit run` puts dashboards/ on the path, not the project
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

from dashboards import session  # noqa: E402
from dashboards.formatting import md_escape  # noqa: E402

APP_TITLE = "AuditoryX Analytics"

st.set_page_config(page_title=APP_TITLE, page_icon="🎧", layout="wide")


def login_page() -> None:
    st.title(APP_TITLE)
    st.caption("Analytics for labels, studios and agencies. Log in to see your organization.")
    with st.form("login", clear_on_submit=False):
        email = st.text_input("Email", key="login_email", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        user, error = session.log_in(email, password)
        if user is None:
            st.error(error)
        else:
            st.rerun()


def _sidebar(user) -> None:
    with st.sidebar:
        st.markdown(f"**{md_escape(user.tenant_name)}**")
        st.caption(f"{md_escape(user.name)} · {md_escape(user.email)}")
        st.button("Log out", key="logout", on_click=session.log_out, icon=":material/logout:")


user = session.current_user()
if user is None:
    page = st.navigation([st.Page(login_page, title="Log in", url_path="login", default=True)], position="hidden")
else:
    _sidebar(user)
    page = st.navigation(
        [
            st.Page(
                "views/01_label_dashboard.py",
                title="Label dashboard",
                icon=":material/insights:",
                url_path="dashboard",  # not the file-derived name: see the note at the top
                default=True,
            )
        ]
    )
page.run()
