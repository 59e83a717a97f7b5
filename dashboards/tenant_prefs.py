"""The logged-in organization's display preferences (time zone, locale) from its settings in the
operational database, read through the tenant repository and cached briefly per tenant."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from sqlalchemy.orm import Session

from dashboards.formatting import DEFAULT_LOCALE, tenant_locale
from operational.models import validate_timezone
from operational.permissions import Actor
from operational.repository import TenantRepository

CACHE_SECONDS = 60


@dataclass(frozen=True)
class TenantPreferences:
    time_zone: str = "UTC"  # IANA name (settings["timezone"])
    locale: str = DEFAULT_LOCALE  # CLDR name (settings["locale"], e.g. "de_DE")


def preferences_from_settings(settings: dict | None) -> TenantPreferences:
    """Pure: the preferences an organization's settings JSON names (invalid values: defaults)."""
    settings = settings if isinstance(settings, dict) else {}
    try:
        zone = validate_timezone(str(settings.get("timezone") or "UTC"))
    except ValueError:
        zone = "UTC"
    return TenantPreferences(time_zone=zone, locale=tenant_locale(settings.get("locale")))


@st.cache_data(ttl=CACHE_SECONDS, max_entries=1024, show_spinner=False)
def _cached(tenant_id: str, user_id: str, _engine, _actor: Actor) -> TenantPreferences:
    with Session(_engine) as session:
        repository = TenantRepository(session, tenant_id, actor_id=user_id, actor_key_id=_actor.api_key_id)
        return preferences_from_settings(repository.organization().settings)


def tenant_preferences(engine, actor: Actor) -> TenantPreferences:
    """The actor's organization's preferences; the defaults when the database cannot be read (a
    page still renders, in UTC and en_US)."""
    try:
        return _cached(actor.tenant_id, actor.user_id, engine, actor)
    except Exception:  # noqa: BLE001 - the operational DB is down: show defaults rather than nothing
        return TenantPreferences()
