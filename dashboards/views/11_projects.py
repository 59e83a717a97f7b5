"""Projects: health of every project (from the snapshot), milestone timeline and a per-project
drill-down (milestones from the operational DB through operational/projects.py). Layout only.

The selected project lives in the URL query (``?project=<id>``) so a view can be shared inside the
tenant; the id is only looked up among this tenant's projects, never used to pick a tenant."""
from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, queries
from dashboards.formatting import (
    NOT_AVAILABLE,
    budget_cell,
    format_count,
    format_date,
    format_money,
    format_pct,
    md_escape,
    milestones_progress,
    project_cell,
    risk_cell,
    risk_reasons,
    status_label,
)
from dashboards.freshness import published_or_stop
from dashboards.session import engine, require
from dashboards.tenant_prefs import tenant_preferences
from operational.permissions import Resource
from operational.projects import get_project
from operational.repository import NotFoundError

TIMELINE_PROJECTS = 10  # the overview timeline shows the first projects of the table (at risk first)
QUERY_KEY = "project"

user = require(Resource.PROJECTS)
actor = user.actor()
st.title("Projects")

data = published_or_stop(
    user.tenant_id, lambda: queries.project_health(user.tenant_id),
    damaged="Project health could not be loaded right now (the published version is damaged); "
            "it is repaired by the next refresh.",
    unavailable="Project health could not be loaded right now. Please try again after the next refresh.",
    empty="No analytics have been published for your organization yet. Project health appears here "
          "after the next data refresh.",
)

currency, locale = data.base_currency, tenant_preferences(engine(), actor).locale
st.caption(f"{md_escape(user.tenant_name)} · as of {format_date(data.as_of)} · amounts in {currency} "
           "(converted from each project's currency at the as-of date)")
projects = data.projects
if projects.is_empty():
    st.info("No projects yet. They appear here once your team creates projects and the data is refreshed.",
            icon=":material/folder_open:")
    st.stop()

rows = projects.to_dicts()
for row in rows:
    row["reasons"] = risk_reasons(row.get("is_over_budget"), row.get("is_past_deadline"), row.get("milestones_overdue"))

at_risk = sum(1 for row in rows if row.get("is_at_risk"))
cards = st.columns(3)
cards[0].metric("Projects", format_count(len(rows)), border=True)
cards[1].metric("At risk", format_count(at_risk), border=True,
                help="Over budget, past its deadline while not completed or cancelled, or with an overdue milestone.")
cards[2].metric("Overdue milestones", format_count(sum(int(r.get("milestones_overdue") or 0) for r in rows)),
                border=True, help="Due before the as-of date and not completed.")

st.subheader("Health")
# st.table wraps long cells (nothing is cut at any width) and reads cells as Markdown: every text
# cell is escaped, so a project's name is always shown as the text it is. Three columns with cells
# on two or three lines (formatting.project_cell, budget_cell), so that the table fits a 390 px phone.
table = pl.DataFrame(
    {
        "Project": [project_cell(r["name"], r.get("status"), r.get("deadline"), r.get("milestones_completed"),
                                 r.get("milestones_total"), r.get("milestones_overdue")) for r in rows],
        "At risk": [md_escape(risk_cell(r.get("is_at_risk"), r["reasons"])) for r in rows],
        "Budget": [budget_cell(r.get("budget"), r.get("budget_used_pct"), currency, locale) for r in rows],
    },
    schema={"Project": pl.String, "At risk": pl.String, "Budget": pl.String},
)
st.table(table, border="horizontal", hide_index=True)


def _milestones(project_ids: list[str]) -> tuple[pl.DataFrame, dict[str, object]]:
    """Milestones of these projects from the operational DB (through the projects service)."""
    found: dict[str, object] = {}
    records = []
    for project_id in project_ids:
        try:
            project = get_project(engine(), actor, project_id)
        except NotFoundError:  # in the snapshot, but deleted since the refresh
            continue
        found[project_id] = project
        records += [{"project": project.name, "title": m.title, "status": m.status, "due_date": m.due_date,
                     "completed_at": m.completed_at} for m in project.milestones]
    frame = pl.DataFrame(records, schema={"project": pl.String, "title": pl.String, "status": pl.String,
                                          "due_date": pl.Date, "completed_at": pl.Datetime("us", "UTC")})
    return frame, found


st.subheader("Milestone timeline")
shown = [r["project_id"] for r in rows[:TIMELINE_PROJECTS]]
if len(rows) > TIMELINE_PROJECTS:
    st.caption(f"The first {TIMELINE_PROJECTS} projects of the table (those at risk first); pick a project "
               "below for any other.")
overview, _ = _milestones(shown)
st.plotly_chart(charts.milestone_timeline_figure(overview, data.as_of, by="project"), width="stretch",
                key="milestone_timeline")

st.subheader("Project details")
by_id = {r["project_id"]: r for r in rows}
ids = list(by_id)
wanted = st.query_params.get(QUERY_KEY)
if wanted is not None and wanted not in by_id:
    st.warning("The project in this link is not one of your organization's projects (or it was not in the "
               "last refresh).", icon=":material/link_off:")
    wanted = None
picked = st.selectbox("Project", ids, index=ids.index(wanted) if wanted else None, key="project_pick",
                      format_func=lambda pid: by_id[pid]["name"], placeholder="Choose a project")
if picked != st.query_params.get(QUERY_KEY):
    if picked is None:
        st.query_params.pop(QUERY_KEY, None)
    else:
        st.query_params[QUERY_KEY] = picked
if picked is None:
    st.caption("Choose a project to see its milestones and health details.")
    st.stop()

row = by_id[picked]
st.markdown(f"#### {md_escape(row['name'])}")
details = st.columns(3)
details[0].metric("Budget used", format_pct(row.get("budget_used_pct")), border=True,
                  help=f"Spent {format_money(row.get('spent'), currency, locale)} of "
                       f"{format_money(row.get('budget'), currency, locale)}.")
details[1].metric("Milestones done", milestones_progress(row.get("milestones_completed"), row.get("milestones_total")),
                  border=True)
details[2].metric("Overdue milestones", format_count(row.get("milestones_overdue") or 0), border=True)
st.markdown(f"Status **{status_label(row.get('status'))}** · "
            f"budget **{md_escape(format_money(row.get('budget'), currency, locale))}** · "
            f"spent **{md_escape(format_money(row.get('spent'), currency, locale))}** · "
            f"deadline **{format_date(row.get('deadline'))}**")
if row.get("is_at_risk"):
    st.warning("At risk: " + (", ".join(row["reasons"]) or "see the health rules"), icon=":material/warning:")
else:
    st.success("On track: within budget, no overdue milestone and not past its deadline.", icon=":material/check:")

milestones, found = _milestones([picked])
if picked not in found:
    st.info("This project is no longer in the operational database (deleted since the last refresh).")
    st.stop()
st.caption(f"Milestones now (operational database; health above is as of {format_date(data.as_of)}).")
if milestones.is_empty():
    st.info("This project has no milestones yet.")
    st.stop()
st.plotly_chart(charts.milestone_timeline_figure(milestones, data.as_of, by="title"), width="stretch",
                key="project_milestones_timeline")
st.dataframe(
    pl.DataFrame(
        {
            "Milestone": milestones["title"].to_list(),
            "Due": [format_date(d) for d in milestones["due_date"].to_list()],
            "Status": [status_label(charts.milestone_state(s, d, data.as_of))
                       for s, d in zip(milestones["status"].to_list(), milestones["due_date"].to_list())],
            "Completed": [format_date(c) if c is not None else NOT_AVAILABLE for c in milestones["completed_at"].to_list()],
        }
    ),
    hide_index=True,
    width="stretch",
    key="project_milestones",
)
