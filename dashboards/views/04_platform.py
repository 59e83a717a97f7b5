"""Platform (operators only): every organization, create one with its first admin, change plan,
(de)activate, and open one read-only. Layout only: rules in operational/organizations.py."""
from __future__ import annotations

import polars as pl
import streamlit as st

from auditoryx.errors import AuditoryxError
from dashboards import queries
from dashboards.session import allowed, current_token, engine, require
from operational import auth, organizations
from operational.enums import OrgType, Plan
from operational.permissions import Action, Resource

user = require(Resource.PLATFORM)
actor = user.actor()
st.title("Platform")
st.caption("Every organization on AuditoryX. Opening one is read-only and recorded in its audit log.")

orgs = organizations.list_organizations(engine(), actor)
st.dataframe(pl.DataFrame({
    "Organization": [o.name for o in orgs],
    "Slug": [o.slug for o in orgs],
    "Type": [o.type.replace("_", " ").title() for o in orgs],
    "Plan": [o.plan.replace("_", " ").title() for o in orgs],
    "Active": [o.is_active for o in orgs],
    "Users (active)": [f"{o.user_count} ({o.active_user_count})" for o in orgs],
}), hide_index=True, width="stretch")

failures = queries.build_failures()
if failures:
    names = {o.id: f"{o.name} ({o.slug})" for o in orgs}
    st.subheader("Build failures")
    st.caption("These organizations keep their last good version until their data passes the checks again.")
    st.dataframe(pl.DataFrame({
        "Organization": [names.get(tenant_id, tenant_id) for tenant_id in failures],
        "Failing since": [f.since for f in failures.values()],
        "Last checked": [f.checked_at for f in failures.values()],
        "Version kept": [f.kept_version or "none yet" for f in failures.values()],
        "Reasons": ["; ".join(f.reasons) for f in failures.values()],
    }), hide_index=True, width="stretch")

if orgs:
    st.subheader("An organization")
    by_label = {f"{o.name} ({o.slug})": o for o in orgs}
    chosen = by_label[st.selectbox("Organization", list(by_label), key="platform_org")]
    open_col, plan_col, state_col = st.columns(3)
    with open_col:
        if chosen.is_active and st.button("Open read-only", key="open_tenant", icon=":material/visibility:"):
            auth.view_tenant(engine(), current_token(), user, chosen.id)
            st.rerun()
    with plan_col:
        plans = [p.value for p in Plan]
        plan = st.selectbox("Plan", plans, index=plans.index(chosen.plan), key="platform_plan")
        if allowed(user, Resource.PLATFORM, Action.UPDATE) and st.button("Change plan", key="change_plan"):
            try:
                organizations.change_plan(engine(), actor, chosen.id, plan)
                st.rerun()
            except AuditoryxError as exc:
                st.error(str(exc))
    with state_col:
        if allowed(user, Resource.PLATFORM, Action.DELETE):
            label, change = (("Deactivate", organizations.deactivate_organization) if chosen.is_active
                             else ("Reactivate", organizations.reactivate_organization))
            if st.button(label, key="org_state"):
                try:
                    change(engine(), actor, chosen.id)
                    st.rerun()
                except AuditoryxError as exc:
                    st.error(str(exc))

if allowed(user, Resource.PLATFORM, Action.CREATE):
    st.subheader("New organization")
    with st.form("new_org", clear_on_submit=False):
        left, right = st.columns(2)
        name = left.text_input("Name")
        slug = right.text_input("Slug (a-z, 0-9, '-'; never changes)")
        org_type = left.selectbox("Type", [t.value for t in OrgType])
        plan = right.selectbox("Plan", [p.value for p in Plan])
        currency = left.text_input("Base currency", value="USD")
        zone = right.text_input("Time zone", value="UTC")
        admin_email = left.text_input("First admin's email")
        admin_name = right.text_input("First admin's name")
        if st.form_submit_button("Create organization", type="primary"):
            try:
                created = organizations.create_organization(
                    engine(), actor, name=name, slug=slug, type=org_type, plan=plan, base_currency=currency,
                    time_zone=zone, admin_email=admin_email, admin_name=admin_name)
            except AuditoryxError as exc:
                st.error(str(exc))
            else:
                st.success(f"Created {created.organization.name}. Password for {created.admin.email} (shown once):")
                st.code(created.admin_password or "", language=None)
