"""Users of the organization: list, add, bulk add from CSV, change role, (de)activate, reset
password. Layout only: every rule is in operational/users.py and operational/permissions.py."""
from __future__ import annotations

import polars as pl
import streamlit as st

from auditoryx.errors import AuditoryxError
from dashboards.formatting import md_escape
from dashboards.session import allowed, engine, require
from operational import users as user_admin
from operational.enums import UserRole
from operational.permissions import Action, Resource

user = require(Resource.USERS)
actor = user.actor()
st.title("Users")
st.caption(f"The people of {md_escape(user.tenant_name)} who can log in, and what their role lets them do.")
ROLES = [role.value for role in UserRole if role is not UserRole.SUPER_ADMIN]


def role_label(role: str) -> str:
    return role.replace("_", " ").title()


def _show_password(email: str, password: str | None) -> None:
    if password:
        st.success(f"Password for {email} (shown once, pass it on securely):")
        st.code(password, language=None)


def _run(action, success: str):
    try:
        result = action()
    except AuditoryxError as exc:
        st.error(str(exc))
        return None
    st.success(success)
    return result


people = user_admin.list_tenant_users(engine(), actor)
st.dataframe(
    pl.DataFrame({
        "Email": [p.email for p in people],
        "Name": [p.name for p in people],
        "Role": [role_label(p.role) for p in people],
        "Active": [p.is_active for p in people],
        "Last login (UTC)": [p.last_login_at.strftime("%Y-%m-%d %H:%M") if p.last_login_at else "never"
                             for p in people],
        "Extra permissions": [", ".join(p.permissions) for p in people],
    }),
    hide_index=True,
    width="stretch",
)

if allowed(user, Resource.USERS, Action.CREATE):
    add_tab, bulk_tab = st.tabs(["Add a user", "Add many (CSV)"])
    with add_tab, st.form("add_user", clear_on_submit=True):
        email = st.text_input("Email")
        name = st.text_input("Name")
        role = st.selectbox("Role", ROLES, index=ROLES.index("VIEWER"), format_func=role_label)
        password = st.text_input("Password (leave empty to generate one)", type="password")
        if st.form_submit_button("Add user", type="primary"):
            created = _run(lambda: user_admin.new_user(engine(), actor, email=email, name=name, role=role,
                                                       password=password or None), f"Added {email.strip().lower()}.")
            if created:
                _show_password(created[0].email, created[1])
    with bulk_tab:
        st.caption("A CSV with the header `email,name,role[,password]`; rows without a password get a generated "
                   "one. Valid rows are created, the others are reported with the reason.")
        upload = st.file_uploader("Users CSV", type=["csv"], key="bulk_users_csv")
        if upload is not None and st.button("Create users", key="bulk_create", type="primary"):
            results = _run(lambda: user_admin.bulk_create_users(engine(), actor, upload.getvalue()),
                           "Bulk creation finished.")
            if results:
                st.dataframe(pl.DataFrame({
                    "Row": [r.row for r in results],
                    "Email": [r.email for r in results],
                    "Result": [r.status for r in results],
                    "Message": [r.message for r in results],
                    "Generated password (shown once)": [r.generated_password or "" for r in results],
                }), hide_index=True, width="stretch")

if allowed(user, Resource.USERS, Action.UPDATE) and people:
    st.subheader("Change a user")
    by_email = {p.email: p for p in people}
    chosen = by_email[st.selectbox("User", list(by_email), key="manage_user")]
    role_col, state_col, password_col = st.columns(3)
    with role_col:
        new_role = st.selectbox("Role", ROLES, index=ROLES.index(chosen.role) if chosen.role in ROLES else 0,
                                key="manage_role", format_func=role_label)
        if st.button("Change role", key="change_role"):
            _run(lambda: user_admin.change_role(engine(), actor, chosen.id, new_role),
                 f"{chosen.email} is now {new_role.replace('_', ' ').title()}.")
    with state_col:
        if chosen.is_active:
            if st.button("Deactivate", key="deactivate_user"):
                _run(lambda: user_admin.deactivate_user(engine(), actor, chosen.id),
                     f"{chosen.email} can no longer log in; their open sessions have ended.")
        elif st.button("Reactivate", key="reactivate_user"):
            _run(lambda: user_admin.reactivate_user(engine(), actor, chosen.id), f"{chosen.email} can log in again.")
    with password_col:
        if st.button("Reset password", key="reset_password"):
            generated = _run(lambda: user_admin.reset_user_password(engine(), actor, chosen.id),
                             f"New password set for {chosen.email}.")
            _show_password(chosen.email, generated)
