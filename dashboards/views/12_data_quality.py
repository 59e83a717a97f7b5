"""Data and quality: when the tenant's data was last refreshed (in the organization's time zone),
whether it is stale, how many rows each source held, the rows kept out of the build with their
reasons and the latest ingestion runs, all from the tenant's own published snapshot. Layout only
(data from quality_queries.py)."""
from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from auditoryx.settings import get_settings
from dashboards import quality_queries, queries
from dashboards.formatting import (
    format_age,
    format_count,
    format_date,
    format_local_time,
    format_timestamp_utc,
    is_stale,
    md_escape,
    snapshot_age,
    source_label,
)
from dashboards.freshness import published_or_stop
from dashboards.session import engine, require
from operational.calendar import tenant_time_zone
from operational.permissions import Resource

user = require(Resource.DATA_QUALITY)
st.title("Data and quality")

failure = queries.build_failure(user.tenant_id)
if failure is not None:
    kept = "the last version that passed" if failure.kept_version else "nothing yet (no version passed so far)"
    st.error(f"The last refresh of your data failed its checks (since {md_escape(failure.since or 'unknown')}, "
             f"last checked {md_escape(failure.checked_at or 'unknown')}): every page keeps showing {kept} "
             "until the data is fixed. Reasons:", icon=":material/report:")
    for reason in failure.reasons:
        st.text(reason)  # data values inside reasons are shown as text, never as Markdown

data = published_or_stop(
    user.tenant_id, lambda: quality_queries.data_quality_details(user.tenant_id),
    damaged="The published version of your data is damaged; it is repaired by the next refresh.",
    unavailable="Your data's details could not be loaded right now. Please try again after the next refresh.",
    empty="No data has been published for your organization yet. The first refresh publishes it.",
)

try:
    zone = tenant_time_zone(engine(), user.actor())
except Exception:  # noqa: BLE001 - the operational DB is down: show UTC rather than nothing
    zone = "UTC"
meta = data.meta
refreshed_at = meta.get("refreshed_at")
now = dt.datetime.now(dt.timezone.utc)
threshold = get_settings().freshness_hours
age = snapshot_age(refreshed_at, now)
local = format_local_time(refreshed_at, zone)

st.caption(f"{md_escape(user.tenant_name)} · times in the organization's time zone ({md_escape(zone)})")
if is_stale(refreshed_at, now, threshold):
    st.warning(
        f"Stale data: the last refresh was {format_age(age)} ago ({local}), more than the "
        f"{threshold:g} hours it should take. Figures on every page may be out of date.",
        icon=":material/schedule:",
    )

cards = st.columns(2)
cards[0].metric("Data as of", format_date(meta.get("as_of")), border=True,
                help="The date the last refresh computed 'today' for (KPI windows end on it).")
cards[1].metric("Refreshed", f"{format_age(age)} ago", border=True, help=f"Last refresh: {local}.")
st.markdown(f"**Last refresh:** {local}")

st.subheader("Source row counts")
st.caption("Rows per source table of your organization when the data was last refreshed.")
if data.row_counts:
    st.dataframe(
        pl.DataFrame({"Source": [source_label(t) for t in data.row_counts],
                      "Rows": list(data.row_counts.values())},
                     schema={"Source": pl.String, "Rows": pl.Int64}),
        hide_index=True,
        width="stretch",
        key="row_counts",
        column_config={"Rows": st.column_config.NumberColumn("Rows", format="localized")},
    )
else:
    st.info("This version does not record source row counts; the next refresh adds them.")

st.subheader("Quarantined rows")
if data.quarantine is None:
    st.info("This version does not record quarantined rows yet; the next refresh adds them.", icon=":material/info:")
elif data.quarantine.is_empty():
    st.success("No rows were kept out of your data: every row of every source passed the checks.",
               icon=":material/check_circle:")
else:
    shown = data.quarantine.height
    st.caption(f"Rows kept out of your data because they failed a check, newest first"
               + (f" (the latest {format_count(shown)} of {format_count(data.quarantine_total)})."
                  if data.quarantine_total > shown else f" ({format_count(shown)})."))
    q = data.quarantine
    st.dataframe(
        pl.DataFrame({
            "When": [format_local_time(v, zone) for v in q["quarantined_at"]],
            "Source": [("File " + f) if f else (src or "") for src, f in zip(q["source"], q["file"])],
            "Entity": [source_label(v) for v in q["entity"]],
            "Row": [str(r) if r is not None else (i or "") for r, i in zip(q["row_number"], q["record_id"])],
            "Column": [v or "" for v in q["column"]],
            "Value": [v or "" for v in q["value"]],
            "Reason": q["reason"].to_list(),
        }, schema={c: pl.String for c in ("When", "Source", "Entity", "Row", "Column", "Value", "Reason")}),
        hide_index=True, width="stretch", key="quarantined_rows",
    )

st.subheader("Recent ingestion runs")
if data.runs is None:
    st.info("This version does not record ingestion runs yet; the next refresh adds them.", icon=":material/info:")
elif data.runs.is_empty():
    st.info("No file has been dropped for your organization yet: your data comes from the operational database.",
            icon=":material/info:")
else:
    r = data.runs
    st.caption("Files dropped for your organization, newest first"
               + (f" (the latest {format_count(r.height)} of {format_count(data.runs_total)})."
                  if data.runs_total > r.height else "."))
    st.dataframe(
        pl.DataFrame({
            "Started": [format_local_time(v, zone) for v in r["started_at"]],
            "File": [f or (e or "") for f, e in zip(r["file_name"], r["entity"])],
            "Entity": [source_label(v) if v else "" for v in r["entity"]],
            "Status": [str(v or "").capitalize() for v in r["status"]],
            "Read": r["rows_read"].to_list(),
            "Loaded": r["rows_loaded"].to_list(),
            "Quarantined": r["rows_quarantined"].to_list(),
            "Error": [v or "" for v in r["error"]],
        }, schema={"Started": pl.String, "File": pl.String, "Entity": pl.String, "Status": pl.String,
                   "Read": pl.Int64, "Loaded": pl.Int64, "Quarantined": pl.Int64, "Error": pl.String}),
        hide_index=True, width="stretch", key="ingestion_runs",
        column_config={name: st.column_config.NumberColumn(name, format="localized")
                       for name in ("Read", "Loaded", "Quarantined")},
    )

with st.expander("Snapshot details"):
    st.markdown(
        f"- Version: `{data.version}`\n"
        f"- Refreshed (UTC): {format_timestamp_utc(refreshed_at)}\n"
        f"- As-of date: {format_date(meta.get('as_of'))}\n"
        f"- Base currency: {md_escape(meta.get('base_currency') or 'USD')}\n"
        f"- Stale after: {threshold:g} hours"
    )
