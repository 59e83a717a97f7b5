"""The API application: ``create_app()`` builds it (no connection is opened at import).

Serve it with ``auditoryx api`` (uvicorn, port 8000) or ``make api``; OpenAPI at ``/api/docs``.
"""
from __future__ import annotations

from functools import lru_cache

from fastapi import FastAPI

from api import problems
from api.context import ApiContext, token_secret
from api.routes import analytics, auth, bookings, feeds, keys, organizations, projects, users
from auditoryx.settings import Settings, get_settings
from warehouse.tenant_analytics import TenantAnalytics

API_PREFIX = "/api/v1"


@lru_cache(maxsize=4)
def _engine(url: str):
    from operational.db import make_engine

    return make_engine(url)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="AuditoryX Analytics API",
        version="1.0.0",
        description="Organizations, users, bookings, projects and analytics of your organization. "
                    "Authenticate with `Authorization: Bearer <API key or token>`; the organization comes "
                    "from the key or token, never from the URL. Errors are RFC 9457 problem details.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.context = ApiContext(settings=settings, engine=_engine(settings.web_database_url),
                                   analytics=TenantAnalytics(settings.published_dir),
                                   token_secret=token_secret(settings))
    problems.install(app)
    for module in (auth, organizations, users, bookings, projects, analytics, keys):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(feeds.router)
    return app
