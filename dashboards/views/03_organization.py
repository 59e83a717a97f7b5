"""Organization settings: name shown, colour, logo, base currency, time zone, report recipients and
the scheduled report (cadence, sections, formats). Layout only: validation and auditing are in
operational/organizations.py; reports/schedules.py runs the schedule."""
from __future__ import annotations

import calendar
import zoneinfo

import streamlit as st

from auditoryx.errors import AuditoryxError
from dashboards import api_access_panel
from dashboards.session import allowed, engine, require
from operational import organizations
from operational.models import ISO_4217_CODES
from operational.permissions import Action, Resource

user = require(Resource.SETTINGS)
actor = user.actor()
current = organizations.get_organization_settings(engine(), actor)
st.title("Organization settings")
st.caption(f"{current.name} · `{current.slug}` (the slug never changes) · plan {current.plan.replace('_', ' ').title()}")

logo = current.logo_bytes()
if logo:
    st.image(logo, width=160, caption=f"Current logo ({current.logo_mime_type}, {current.logo_size / 1024:.0f} KiB)")

editable = allowed(user, Resource.SETTINGS, Action.UPDATE)
currencies = sorted(ISO_4217_CODES)
zones = sorted(zoneinfo.available_timezones())
with st.form("organization_settings"):
    display_name = st.text_input("Display name", value=current.display_name, disabled=not editable)
    colour = st.color_picker("Primary colour", value=current.primary_color or "#4f46e5", disabled=not editable)
    upload = st.file_uploader("Logo (PNG or JPEG, at most 256 KiB)", type=["png", "jpg", "jpeg"],
                              disabled=not editable)
    currency = st.selectbox("Base currency", currencies, index=currencies.index(current.base_currency)
                            if current.base_currency in currencies else currencies.index("USD"), disabled=not editable)
    zone = st.selectbox("Time zone", zones, index=zones.index(current.time_zone) if current.time_zone in zones
                        else zones.index("UTC"), disabled=not editable)
    recipients = st.text_area("Report recipients (one email per line)", value="\n".join(current.report_recipients),
                              disabled=not editable)
    schedule = current.report_schedule or {}
    st.markdown("**Scheduled report** (sent to the report recipients; times in UTC)")
    schedule_on = st.checkbox("Send a scheduled report", value=bool(schedule.get("enabled")), disabled=not editable,
                              key="report_schedule_enabled")
    cadences = list(organizations.REPORT_CADENCES)
    cadence = st.selectbox("Cadence", cadences, index=cadences.index(schedule.get("cadence", "weekly")),
                           format_func=str.title, disabled=not editable, key="report_schedule_cadence")
    weekday = st.selectbox("Weekday (weekly)", list(range(7)), index=int(schedule.get("weekday", 0)),
                           format_func=lambda day: calendar.day_name[day], disabled=not editable,
                           key="report_schedule_weekday")
    month_day = st.number_input("Day of the month (monthly)", min_value=1, max_value=28,
                                value=int(schedule.get("day", 1)), disabled=not editable, key="report_schedule_day")
    hour = st.number_input("Hour (UTC)", min_value=0, max_value=23, value=int(schedule.get("hour_utc", 6)),
                           disabled=not editable, key="report_schedule_hour")
    periods = list(organizations.REPORT_PERIODS)
    period = st.selectbox("Period", periods, index=periods.index(schedule.get("period", "last-12-months")),
                          format_func=lambda p: p.replace("-", " ").capitalize(), disabled=not editable,
                          key="report_schedule_period")
    report_sections = st.multiselect("Sections", list(organizations.REPORT_SECTIONS),
                                     default=schedule.get("sections", list(organizations.REPORT_SECTIONS)),
                                     format_func=lambda key: key.replace("_", " ").capitalize(),
                                     disabled=not editable, key="report_schedule_sections")
    report_formats = st.multiselect("Formats", list(organizations.REPORT_FORMATS),
                                    default=schedule.get("formats", ["xlsx", "html"]), format_func=str.upper,
                                    disabled=not editable, key="report_schedule_formats")
    saved = st.form_submit_button("Save settings", type="primary", disabled=not editable)
if saved:
    try:
        organizations.update_organization_settings(
            engine(), actor, display_name=display_name, primary_color=colour,
            logo_bytes=upload.getvalue() if upload is not None else None, base_currency=currency, time_zone=zone,
            report_recipients=[line.strip() for line in recipients.splitlines() if line.strip()],
            report_schedule={"enabled": schedule_on, "cadence": cadence, "weekday": weekday, "day": int(month_day),
                             "hour_utc": int(hour), "period": period, "sections": report_sections,
                             "formats": report_formats} if schedule_on or schedule else None)
    except AuditoryxError as exc:
        st.error(str(exc))
    else:
        st.cache_data.clear()  # branding is cached per tenant for a minute
        st.success("Settings saved.")
        st.rerun()
if not editable:
    st.info("Only your organization's administrators can change these settings.", icon=":material/lock:")

api_access_panel.render(actor, editable)
