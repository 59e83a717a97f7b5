"""The app's router (dashboards/app.py runs :func:`route` on every run): a login page for anonymous
sessions; once logged in, the pages the user's role and grants allow (dashboards/navigation.py
asks the permission module).

A module rather than the entry script itself: Streamlit compiles the entry script (with its
"magic" rewrite) on each AppTest run; a module is compiled once.
"""
from __future__ import annotations

import streamlit as st

from dashboards import branding, gc_freeze, preload, session
from dashboards.formatting import md_escape
from dashboards.navigation import PAGES, pages_for

APP_TITLE = "AuditoryX Analytics"


def login_page() -> None:
    host = branding.login_branding()
    if host is not None:
        branding.apply_theme(host.branding)
        branding.show_logo(host.branding)
        st.title(md_escape(host.name))
        st.caption(f"{APP_TITLE}: log in to see your organization.")
    else:
        st.title(APP_TITLE)
        st.caption("Analytics for labels, studios and agencies. Log in to see your organization.")
    notice = st.session_state.pop("auditoryx_notice", None)
    if notice:
        st.info(notice)
    with st.form("login", clear_on_submit=False):
        email = st.text_input("Email", key="login_email", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        user, error = session.log_in(email, password, tenant_id=host.tenant_id if host else None)
        if user is None:
            st.error(error)
        else:
            st.rerun()
    preload.preload_dashboard_components()  # the dashboard's browser code loads while the person types


def _sidebar(user, tenant_branding) -> None:
    with st.sidebar:
        branding.show_logo(tenant_branding, sidebar=True)
        st.markdown(f"**{md_escape(user.tenant_name)}**")
        st.caption(f"{md_escape(user.name)} · {md_escape(user.email)} · {md_escape(user.role.replace('_', ' ').title())}")
        if user.read_only:
            st.warning("Read-only view of this organization (recorded in its audit log).",
                       icon=":material/visibility:")
            st.button("Back to the platform", key="leave_tenant", on_click=session.leave_tenant,
                      icon=":material/arrow_back:")
        st.button("Log out", key="logout", on_click=session.log_out, icon=":material/logout:")


def route() -> None:
    """One run: the page config, then the login page or the user's pages."""
    st.set_page_config(page_title=APP_TITLE, page_icon="🎧", layout="wide")
    gc_freeze.freeze_loaded_modules()  # Streamlit's collection after each run then skips the imported modules
    session.sync_cookie()
    user = session.current_user()
    if user is None:
        # Deep links: every page's URL shows the login form while logged out (not "Page not found"),
        # so the rerun after login opens that page, if the user's role may open it (else the first).
        page = st.navigation([st.Page(login_page, title="Log in", url_path="login", default=True)]
                             + [st.Page(login_page, title="Log in", url_path=spec.url_path, visibility="hidden")
                                for spec in PAGES], position="hidden")
    else:
        tenant_branding = branding.tenant_branding(user.tenant_id)
        branding.apply_theme(tenant_branding)
        _sidebar(user, tenant_branding)
        specs = pages_for(user.actor())
        if not specs:
            def no_pages() -> None:
                st.title(md_escape(user.tenant_name))
                st.info("Your account has no pages in AuditoryX Analytics yet. Ask your organization's "
                        "administrator for access.", icon=":material/lock:")
            page = st.navigation([st.Page(no_pages, title="Home", url_path="home", default=True)])
        else:
            page = st.navigation([st.Page(spec.script, title=spec.title, icon=spec.icon, url_path=spec.url_path,
                                          default=index == 0) for index, spec in enumerate(specs)])
    page.run()
