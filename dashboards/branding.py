"""Tenant branding in the app: the login page's (by Host header) and the logged-in tenant's.

Colours and logo come from ``organizations.branding`` (set on the Organization settings page);
reads are cached for a minute per host or per tenant id.
"""
from __future__ import annotations

import base64
import re
from typing import Any

import streamlit as st

from dashboards.app_settings import settings as get_settings
from dashboards.session_engine import web_engine
from operational.host_branding import HostBranding, branding_for_host

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOUR = "#4f46e5"


def primary_colour(branding: dict[str, Any] | None) -> str:
    colour = str((branding or {}).get("primary_colour") or "")
    return colour if _COLOUR.match(colour) else DEFAULT_COLOUR


def logo_bytes(branding: dict[str, Any] | None) -> bytes | None:
    """An uploaded logo (a PNG/JPEG ``data:`` URL, see operational/organizations.py); remote URLs
    are not fetched."""
    value = str((branding or {}).get("logo") or "")
    prefix, _, data = value.partition(";base64,")
    if prefix not in ("data:image/png", "data:image/jpeg") or not data:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        return None


@st.cache_data(ttl=60, show_spinner=False)
def _host_branding(host: str, base_domain: str | None, url: str) -> HostBranding | None:
    return branding_for_host(web_engine(), host, base_domain)


def login_branding() -> HostBranding | None:
    try:
        host = st.context.headers.get("Host")
    except Exception:  # noqa: BLE001 - no request (AppTest)
        host = None
    if not isinstance(host, str) or not host:
        return None
    settings = get_settings()
    try:
        return _host_branding(host, settings.base_domain, settings.web_database_url)
    except Exception:  # noqa: BLE001 - branding is decoration: never block the login
        return None


@st.cache_data(ttl=60, show_spinner=False)
def _tenant_branding(tenant_id: str, url: str) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from operational.repository import TenantRepository

    with Session(web_engine()) as session:
        return dict(TenantRepository(session, tenant_id).organization().branding or {})


def tenant_branding(tenant_id: str) -> dict[str, Any]:
    try:
        return _tenant_branding(tenant_id, get_settings().web_database_url)
    except Exception:  # noqa: BLE001
        return {}


def apply_theme(branding: dict[str, Any] | None) -> None:
    """The tenant's primary colour on buttons, links and headings' accents."""
    colour = primary_colour(branding)
    st.html(f"<style>:root {{ --auditoryx-primary: {colour}; }} "
            f"button[kind='primary'], button[data-testid='stBaseButton-primary'], "
            f"[data-testid='stFormSubmitButton'] button {{ background-color: {colour}; border-color: {colour}; }} "
            f"[data-baseweb='tab-highlight'] {{ background-color: {colour}; }} "
            f"button[role='tab'][aria-selected='true'] p {{ color: {colour}; }} "
            f"h1 {{ border-bottom: 3px solid {colour}; padding-bottom: .2em; }}</style>")


def show_logo(branding: dict[str, Any] | None, *, sidebar: bool = False) -> None:
    image = logo_bytes(branding)
    if image is None:
        return
    if sidebar:
        st.logo(image, size="large")
    else:
        st.image(image, width=160)
