"""Bulk booking: many sessions across artists and dates at once, typed in a grid or uploaded as
CSV/XLSX, previewed (reasons, conflicts, costs against project budgets), then booked in one
transaction. Layout only: every rule is in operational/bulk_bookings.py and operational/bookings.py."""
from __future__ import annotations

import hashlib

import pandas as pd
import polars as pl
import streamlit as st

from auditoryx.errors import AuditoryxError
from auditoryx.refresh_requests import request_tenant_refresh
from auditoryx.settings import get_settings
from dashboards.formatting import md_escape
from dashboards.session import engine, require
from operational import bookings
from operational import bulk_bookings as bulk
from operational.enums import BookingType, Priority
from operational.permissions import Action, Resource

user = require(Resource.BOOKINGS, Action.CREATE)
actor = user.actor()

GRID_ROWS = "bulk_grid_rows"        # the grid's starting rows (a file loaded into the grid replaces them)
GRID_VERSION = "bulk_grid_version"  # a new grid widget whenever its starting rows are replaced
PREVIEWED = "bulk_previewed"        # (source, fingerprint) of the rows last previewed
OUTCOME = "bulk_outcome"            # what the last "Book" did, shown after the rerun
EMPTY_ROWS = 5
MODES = {"All or nothing": "all_or_nothing", "Only the valid rows": "valid_only"}

st.title("Bulk booking")
zone = bookings.default_timezone(engine(), actor)
st.caption(f"Book a whole tracking week for {md_escape(user.tenant_name)}: many sessions across artists and "
           f"dates. Times are local to each row's time zone (blank: {md_escape(zone)}). New bookings are requests "
           "waiting for approval; nothing is booked before you confirm the preview.")


def _fingerprint(rows: list[bulk.RawRow]) -> str:
    text = repr([(r.row, sorted(r.values.items()), r.error) for r in rows])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _blank_rows(count: int = EMPTY_ROWS) -> list[dict[str, str | None]]:
    return [{column: "" for column in bulk.COLUMNS} for _ in range(count)]


def _load_into_grid(rows: list[bulk.RawRow]) -> None:
    st.session_state[GRID_ROWS] = [dict(r.values) for r in rows] or _blank_rows()
    st.session_state[GRID_VERSION] = st.session_state.get(GRID_VERSION, 0) + 1
    st.session_state.pop(PREVIEWED, None)


def _file_to_grid(rows: list[bulk.RawRow]) -> None:
    _load_into_grid(rows)
    st.toast(f"{len(rows)} row{'s' if len(rows) != 1 else ''} loaded into the grid (first tab).")


outcome = st.session_state.pop(OUTCOME, None)
if outcome:
    (st.success if outcome["booked"] else st.error)(outcome["message"])
    if outcome["not_booked"]:
        st.dataframe(pl.DataFrame(outcome["not_booked"], schema=["Row", "Why not booked"], orient="row"),
                     hide_index=True, width="stretch")

st.download_button("Download the CSV template", bulk.template_csv(), file_name="bulk-booking-template.csv",
                   mime="text/csv", icon=":material/download:")
with st.expander("Columns"):
    st.markdown("\n".join(f"- `{column}`: {md_escape(text)}" + ("" if column not in bulk.REQUIRED_COLUMNS
                                                                 else " (required)")
                          for column, text in bulk.COLUMN_HELP.items()))

artists = [name for _, name in bookings.bookable_artists(engine(), actor)]
projects = [name for _, name, _ in bookings.bookable_projects(engine(), actor)]
grid_tab, file_tab = st.tabs(["Type in a grid", "Upload a file (CSV or XLSX)"])

with grid_tab:
    start_rows = st.session_state.setdefault(GRID_ROWS, _blank_rows())
    config = {column: st.column_config.TextColumn(column, help=bulk.COLUMN_HELP[column]) for column in bulk.COLUMNS}

    def _choices(column: str, known: list[str]) -> list[str]:
        """The known values, then whatever the starting rows hold besides (a loaded file's typos stay
        visible, to be fixed here; the preview says what is wrong with them)."""
        present = {str(r.get(column) or "").strip() for r in start_rows} - set(known) - {""}
        return known + sorted(present)

    config.update({column: st.column_config.SelectboxColumn(column, options=_choices(column, known),
                                                            help=bulk.COLUMN_HELP[column])
                   for column, known in (("artist", artists), ("type", [t.value for t in BookingType]),
                                         ("remote", ["no", "yes"]), ("priority", [p.value for p in Priority]),
                                         ("project", projects))})
    table = pd.DataFrame([{c: "" if r.get(c) is None else str(r.get(c)) for c in bulk.COLUMNS} for r in start_rows],
                         columns=list(bulk.COLUMNS), dtype="object")
    edited = st.data_editor(table, num_rows="dynamic", column_config=config, hide_index=True, width="stretch",
                            key=f"bulk_grid_{st.session_state.get(GRID_VERSION, 0)}")
    try:
        grid_rows: list[bulk.RawRow] | None = bulk.rows_from_records(edited.to_dict("records"))
    except bulk.BulkUploadError as exc:
        st.error(md_escape(exc))
        grid_rows = None
    if st.button("Preview", key="preview_grid", type="primary", disabled=not grid_rows):
        st.session_state[PREVIEWED] = ("grid", _fingerprint(grid_rows))

with file_tab:
    upload = st.file_uploader("Bookings file", type=["csv", "xlsx"], key="bulk_file",
                              help="At most 1 MiB and 500 rows, with the template's header.")
    file_rows: list[bulk.RawRow] | None = None
    if upload is not None:
        try:
            file_rows = bulk.parse_upload(upload.getvalue(), upload.name)
        except bulk.BulkUploadError as exc:
            st.error(md_escape(exc))
    if file_rows is not None:
        st.caption(f"{len(file_rows)} row{'s' if len(file_rows) != 1 else ''} read from {md_escape(upload.name)}.")
        preview_col, grid_col = st.columns(2)
        if preview_col.button("Preview", key="preview_file", type="primary", disabled=not file_rows):
            st.session_state[PREVIEWED] = ("file", _fingerprint(file_rows))
        grid_col.button("Edit these rows in the grid", key="file_to_grid", on_click=_file_to_grid,
                        args=(file_rows,))

previewed = st.session_state.get(PREVIEWED)
rows = {"grid": grid_rows, "file": file_rows}.get(previewed[0]) if previewed else None
if previewed and (rows is None or _fingerprint(rows) != previewed[1]):
    st.info("The rows changed since the preview: preview them again.", icon=":material/refresh:")
    st.stop()
if not previewed or not rows:
    st.stop()

try:
    preview = bulk.preview_bookings(engine(), actor, rows)
except AuditoryxError as exc:
    st.error(md_escape(exc))
    st.stop()

st.subheader("Preview")
bookable = len(preview.bookable)
st.caption(f"{bookable} of {len(preview.rows)} rows can be booked. Conflicts are checked in UTC against the "
           "artist's bookings and the other rows; costs are not converted between currencies.")
for warning in preview.warnings:
    st.warning(md_escape(warning), icon=":material/savings:")


def _status(row: bulk.RowPreview) -> str:
    return "ready" if row.bookable else ("conflict" if row.valid else "invalid")


st.dataframe(
    pl.DataFrame({
        "Row": [r.row for r in preview.rows],
        "Status": [_status(r) for r in preview.rows],
        "Artist": [r.artist_name or "" for r in preview.rows],
        "Title": [r.title for r in preview.rows],
        "Start": [r.local_start for r in preview.rows],
        "End": [r.local_end for r in preview.rows],
        "Time zone": [r.timezone or "" for r in preview.rows],
        "Reasons": ["; ".join(r.reasons) for r in preview.rows],
        "Conflicts": ["; ".join(r.conflicts) for r in preview.rows],
        "Cost": [bulk.money(r.cost, r.currency) for r in preview.rows],
        "Project": [r.project_name or "" for r in preview.rows],
        "Project total": [bulk.money(r.running_total, next((p.currency for p in preview.projects
                                                             if p.project_id == r.project_id), None))
                          for r in preview.rows],
        "Over budget": [r.over_budget for r in preview.rows],
        "Note": [r.cost_note or "" for r in preview.rows],
    }),
    hide_index=True,
    width="stretch",
)
if preview.projects:
    st.dataframe(
        pl.DataFrame({
            "Project": [p.name for p in preview.projects],
            "Budget": [bulk.money(p.budget, p.currency) or "none" for p in preview.projects],
            "Spent": [bulk.money(p.spent, p.currency) for p in preview.projects],
            "This batch": [bulk.money(p.batch, p.currency) for p in preview.projects],
            "Total": [bulk.money(p.total, p.currency) for p in preview.projects],
            "Rows in another currency": [p.left_out for p in preview.projects],
        }),
        hide_index=True,
        width="stretch",
    )

mode_label = st.radio("What to book", list(MODES), key="bulk_mode", horizontal=True,
                      help="All or nothing: nothing is booked unless every row can be. Only the valid rows: "
                           "the rows that can be booked are, the others are reported.")
mode = MODES[mode_label]
count = len(preview.rows) if mode == "all_or_nothing" else bookable
blocked = (mode == "all_or_nothing" and not preview.all_bookable) or count == 0
if mode == "all_or_nothing" and not preview.all_bookable:
    st.caption(f"{len(preview.refused)} row{'s' if len(preview.refused) != 1 else ''} cannot be booked: fix "
               f"{'them' if len(preview.refused) != 1 else 'it'}, or choose “Only the valid rows”.")
if st.button(f"Book {count} session{'s' if count != 1 else ''}", key="bulk_commit", type="primary",
             disabled=blocked):
    try:
        result = bulk.commit_bookings(engine(), actor, rows, mode=mode)
    except AuditoryxError as exc:
        st.error(md_escape(exc))
        st.stop()
    st.session_state[OUTCOME] = {
        "booked": result.booked,
        "message": result.message,
        "not_booked": [(r.row, "; ".join(r.reasons + r.conflicts) or "not booked (all or nothing)")
                       for r in result.not_booked],
    }
    if result.booked and result.not_booked and previewed[0] == "grid":
        st.session_state[OUTCOME]["message"] += " The rows not booked stay in the grid, to fix."
    if result.booked:
        refresh = request_tenant_refresh(get_settings(), user.tenant_id, user.tenant_slug)
        st.session_state[OUTCOME]["message"] = (st.session_state[OUTCOME]["message"].replace(
            " They appear on the dashboard after the next refresh.", "") + " " + refresh.message())
        st.session_state.pop(PREVIEWED, None)
        if previewed[0] == "grid":  # what was not booked stays in the grid, to fix
            _load_into_grid([r for r in rows if r.row in {n.row for n in result.not_booked}])
    st.rerun()
