"""Organization settings: name shown, colour, logo, base currency, time zone, report recipients.
Layout only: validation and auditing are in operational/organizations.py."""
from __future__ import annotations

import zoneinfo

import streamlit as st

from auditoryx.errors import AuditoryxError
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
    saved = st.form_submit_button("Save settings", type="primary", disabled=not editable)
if saved:
    try:
        organizations.update_organization_settings(
            engine(), actor, display_name=display_name, primary_color=colour,
            logo_bytes=upload.getvalue() if upload is not None else None, base_currency=currency, time_zone=zone,
            report_recipients=[line.strip() for line in recipients.splitlines() if line.strip()])
    except AuditoryxError as exc:
        st.error(str(exc))
    else:
        st.cache_data.clear()  # branding is cached per tenant for a minute
        st.success("Settings saved.")
        st.rerun()
if not editable:
    st.info("Only your organization's administrators can change these settings.", icon=":material/lock:")
