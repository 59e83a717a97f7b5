"""Platform (operators only): tenants by plan and type, activity and revenue per tenant in USD,
freshness and build failures (from the platform snapshot, dashboards/quality_queries.py), a
tenant's details (opening them is audited in that tenant's log: operational/platform_audit.py);
every organization, create one with its first admin, change plan, (de)activate, and open one
read-only. Layout only: rules in operational/organizations.py."""
from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from auditoryx.errors import AuditoryxError
from auditoryx.settings import get_settings
from dashboards import quality_queries, queries
from dashboards.formatting import format_age, format_count, format_money, format_timestamp_utc, snapshot_age
from dashboards.session import allowed, current_token, engine, require
from operational import auth, organizations, platform_audit
from operational.enums import OrgType, Plan
from operational.permissions import Action, Resource

user = require(Resource.PLATFORM)
actor = user.actor()
st.title("Platform")
st.caption("Every organization on AuditoryX. Opening one is read-only and recorded in its audit log.")

DETAIL_KEY = "platform_detail"
AUDITED_KEY = "platform_detail_audited"  # the tenant whose opening was last audited in this session


def _label(value) -> str:
    return str(value or "").replace("_", " ").title()


def _usd(value) -> str:
    return format_money(value, "USD") if value is not None else "not available"


try:
    platform = quality_queries.platform_data(actor)
except queries.DashboardUnavailable:
    platform = None
    st.error("The platform snapshot could not be read right now; the next refresh publishes a new one.",
             icon=":material/build:")
else:
    if platform is None:
        st.info("No platform snapshot has been published yet. The first refresh publishes it.",
                icon=":material/hourglass_empty:")

if platform is not None:
    now = dt.datetime.now(dt.timezone.utc)
    threshold = get_settings().freshness_hours
    refreshed = platform.meta.get("refreshed_at")
    st.subheader("Tenants by plan and type")
    st.caption(f"Platform snapshot of {format_timestamp_utc(refreshed)} ({format_age(snapshot_age(refreshed, now))} "
               "ago). Revenue: recognized revenue of all time, each booking converted to USD. A tenant whose "
               "build failed counts with its last good numbers.")
    o = platform.overview
    st.dataframe(pl.DataFrame({
        "Plan": [_label(v) for v in o["plan"]],
        "Type": [_label(v) for v in o["organization_type"]],
        "Tenants": o["tenants"].to_list(),
        "Active": o["active_tenants"].to_list(),
        "Bookings": o["total_bookings"].to_list(),
        "Completed": o["completed_bookings"].to_list(),
        "Revenue (USD)": [_usd(v) for v in o["recognized_revenue_usd"]],
    }, schema={"Plan": pl.String, "Type": pl.String, "Tenants": pl.Int64, "Active": pl.Int64, "Bookings": pl.Int64,
               "Completed": pl.Int64, "Revenue (USD)": pl.String}), hide_index=True, width="stretch")

    t = platform.tenants
    live_failures = queries.build_failures()
    checks = quality_queries.tenant_checks(t["tenant_id"].to_list())
    fresh = {r["tenant_id"]: r for r in quality_queries.freshness_rows(t, live_failures, now, threshold, checks)}
    st.subheader("Activity, revenue and freshness per tenant")
    st.caption(f"Published: when the version each tenant's users see was published; stale after {threshold:g} "
               "hours. Last failure: the build failure a tenant has now (it keeps its last good version).")
    st.dataframe(pl.DataFrame({
        "Organization": [f"{n} ({s})" for n, s in zip(t["organization_name"], t["slug"])],
        "Plan": [_label(v) for v in t["plan"]],
        "Type": [_label(v) for v in t["organization_type"]],
        "Active": t["is_active"].to_list(),
        "Bookings": t["total_bookings"].to_list(),
        "Completed": t["completed_bookings"].to_list(),
        "Revenue (USD)": [_usd(v) for v in t["recognized_revenue_usd"]],
        "Published": [f"{format_age(fresh[i]['age'])} ago" if fresh[i]["age"] is not None else "never"
                      for i in t["tenant_id"]],
        "Fresh": ["stale" if fresh[i]["stale"] else "fresh" for i in t["tenant_id"]],
        "Last failure": [fresh[i]["failure"] or "none" for i in t["tenant_id"]],
    }, schema={"Organization": pl.String, "Plan": pl.String, "Type": pl.String, "Active": pl.Boolean,
               "Bookings": pl.Int64, "Completed": pl.Int64, "Revenue (USD)": pl.String, "Published": pl.String,
               "Fresh": pl.String, "Last failure": pl.String}), hide_index=True, width="stretch")

    by_label = {f"{n} ({s})": i for n, s, i in zip(t["organization_name"], t["slug"], t["tenant_id"])}
    picked = st.selectbox("A tenant's details (opening them is recorded in its audit log)", list(by_label),
                          index=None, placeholder="Choose an organization", key=DETAIL_KEY)
    if picked is not None:
        tenant_id = by_label[picked]
        opened = True
        if st.session_state.get(AUDITED_KEY) != tenant_id:
            try:
                platform_audit.record_tenant_opened(engine(), actor, tenant_id, operator_email=user.email)
                st.session_state[AUDITED_KEY] = tenant_id
            except AuditoryxError as exc:
                opened = False
                st.error(f"The details could not be opened: {exc}")
        if opened:
            row = t.row(t["tenant_id"].to_list().index(tenant_id), named=True)
            cards = st.columns(4)
            cards[0].metric("Bookings", format_count(row["total_bookings"]), border=True)
            cards[1].metric("Completed", format_count(row["completed_bookings"]), border=True)
            cards[2].metric("Revenue (USD)", _usd(row["recognized_revenue_usd"]), border=True)
            cards[3].metric("Published", f"{format_age(fresh[tenant_id]['age'])} ago", border=True)
            st.text(f"Plan: {_label(row['plan'])} · type: {_label(row['organization_type'])} · "
                        f"base currency: {_label(row['base_currency']).upper()}")
            st.text(f"Snapshot version its users see: {row['snapshot_version'] or 'none'}")
            numbers = {"this build": "the latest build", "last good build": "its last good build (the latest failed)",
                       "none": "no build that passed yet"}.get(row["numbers_from"] or "", "the latest build")
            st.text(f"Numbers from {numbers}.")
            status = live_failures.get(tenant_id)
            if status is not None:
                st.error(f"Build failing since {status.since}; it keeps {status.kept_version or 'no version'}. Reasons:",
                         icon=":material/report:")
                for reason in status.reasons:
                    st.text(reason)

orgs = organizations.list_organizations(engine(), actor)
st.subheader("Organizations")
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
