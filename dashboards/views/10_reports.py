"""Reports: the tenant's exports (download), "Generate now", "Send now" and the e-mail deliveries.
Layout only: rendering, folders and permissions are in reports/ (export.py, delivery.py)."""
from __future__ import annotations

import streamlit as st

from auditoryx.errors import AuditoryxError
from auditoryx.settings import get_settings
from dashboards.session import allowed, engine, require
from operational.permissions import Action, Resource
from reports.delivery import list_deliveries, outbox_deliveries, report_recipients, send_export
from reports.export import FORMATS, export_file, export_tenant, list_exports
from reports.sections import SECTION_KEYS, SECTION_TITLES
from reports.period import DEFAULT_PERIOD

PERIODS = ("last-12-months", "last-3-months", "previous-month", "last-30-days", "last-7-days")

user = require(Resource.REPORTS)
actor = user.actor()
settings = get_settings()
exports_dir = settings.resolved_exports_dir
st.title("Reports")
st.caption("Your organization's report exports: XLSX, HTML and PDF for people, CSV and Parquet for machines. "
           "Scheduled reports are set in Organization settings.")

if allowed(user, Resource.REPORTS, Action.EXPORT):
    with st.form("generate_report"):
        st.subheader("Generate now")
        formats = st.multiselect("Formats", list(FORMATS), default=["xlsx", "html"], format_func=str.upper,
                                 key="report_formats")
        period = st.selectbox("Period", PERIODS, index=PERIODS.index(DEFAULT_PERIOD),
                              format_func=lambda p: p.replace("-", " ").capitalize(), key="report_period")
        sections = st.multiselect("Sections", list(SECTION_KEYS), default=list(SECTION_KEYS),
                                  format_func=SECTION_TITLES.get, key="report_sections")
        generate = st.form_submit_button("Generate now", type="primary")
    if generate:
        try:
            with st.spinner("Rendering the report…"):
                result = export_tenant(settings, user.tenant_id, actor=actor, formats=formats or None, period=period,
                                       sections=sections or None, engine=engine())
        except AuditoryxError as exc:
            st.error(str(exc))
        else:
            st.success(f"Report generated: {len(result.manifest['files'])} files.")

exports = list_exports(exports_dir, user.tenant_id, actor=actor)
st.subheader("Exports")
if not exports:
    st.info("No exports yet.", icon=":material/inbox:")
else:
    labels = {f"{e.folder.parent.name}/{e.folder.name}": e for e in exports}

    def _describe(key: str) -> str:
        m = labels[key].manifest
        period = m.get("period", {})
        return f"{period.get('first')} – {period.get('last')} · generated {str(m.get('generated_at', ''))[:16]} UTC"

    st.dataframe([{"Period": f"{e.manifest.get('period', {}).get('first')} – {e.manifest.get('period', {}).get('last')}",
                   "As of": e.manifest.get("as_of"), "Generated (UTC)": str(e.manifest.get("generated_at", ""))[:16],
                   "Formats": ", ".join(f.upper() for f in e.manifest.get("formats", [])),
                   "Files": len(e.manifest.get("files", []))} for e in exports], hide_index=True)
    chosen = st.selectbox("Export", list(labels), format_func=_describe, key="report_export")
    export = labels[chosen]
    for number, entry in enumerate(export.manifest.get("files", [])):
        path = export_file(export, entry["file"])
        st.download_button(f"{entry['file']} ({entry['rows']} rows)", data=path.read_bytes(), file_name=entry["file"],
                           key=f"download_{number}", icon=":material/download:")
    if allowed(user, Resource.REPORTS, Action.UPDATE):
        recipients = report_recipients(engine(), user.tenant_id)
        st.caption("Send to: " + (", ".join(recipients) if recipients else "no report recipients yet "
                                                                           "(Organization settings)"))
        if st.button("Send now", key="send_report", disabled=not recipients):
            try:
                delivery = send_export(engine(), exports_dir, user.tenant_id, export, recipients, actor=actor)
            except AuditoryxError as exc:
                st.error(str(exc))
            else:
                st.success(f"Queued for {len(delivery.recipients)} recipients.")

st.subheader("Deliveries")
outbox = outbox_deliveries(engine(), actor)
if outbox is not None:
    rows = [{"Queued (UTC)": f"{m.created_at:%Y-%m-%d %H:%M}", "Status": m.status.title(),
             "Attempts": f"{m.attempts}/{m.max_attempts}", "To": ", ".join(m.payload.get("to", [])),
             "Subject": m.payload.get("subject", ""), "Last error": m.last_error or ""} for m in outbox]
else:
    rows = [{"Queued (UTC)": d.get("at", "")[:16], "Status": d.get("status", ""), "To": ", ".join(d.get("recipients", [])),
             "Subject": d.get("subject", ""), "Detail": d.get("detail", "")}
            for d in list_deliveries(exports_dir, user.tenant_id, actor=actor)]
if rows:
    st.dataframe(rows, hide_index=True)
else:
    st.info("No reports sent yet.", icon=":material/outgoing_mail:")
