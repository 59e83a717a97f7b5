"""The web tier's operational database engine, one per process and URL (Streamlit and routes)."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from dashboards.app_settings import settings as get_settings


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    from operational.db import make_engine

    return make_engine(url)


def web_engine() -> Engine:
    """On PostgreSQL a member of auditoryx_app, under row-level security (AUDITORYX_APP_DATABASE_URL)."""
    return _engine(get_settings().web_database_url)


def session_limits():
    """Idle and absolute session lifetimes from the settings."""
    import datetime as dt

    from operational.auth import SessionLimits

    settings = get_settings()
    return SessionLimits(idle=dt.timedelta(minutes=settings.session_idle_minutes),
                         absolute=dt.timedelta(hours=settings.session_max_hours))
