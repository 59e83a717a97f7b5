"""The API application: ``create_app()`` builds it (no connection is opened at import).

Serve it with ``auditoryx api`` (uvicorn, port 8000) or ``make api``; OpenAPI at ``/api/docs``.
"""
from __future__ import annotations

import os
from functools import lru_cache

from fastapi import FastAPI

from api import problems
from api.context import ApiContext, token_secret
from api.routes import analytics, auth, bookings, feeds, keys, organizations, projects, reports, users, webhooks
from auditoryx.settings import Settings, get_settings
from warehouse.tenant_analytics import TenantAnalytics

API_PREFIX = "/api/v1"


@lru_cache(maxsize=4)
def _engine(url: str):
    from operational.db import make_engine

    return make_engine(url)


class RateLimitHeaders:
    """Adds the caller's ``RateLimit-*`` headers (set by :func:`api.context.principal` in the
    request's state) to whatever response goes out, errors included. Plain ASGI: no overhead
    beyond one dictionary lookup."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = (scope.get("state") or {}).get("rate_headers")
                if extra:
                    message["headers"] = [*message.get("headers", []),
                                          *((k.lower().encode(), v.encode()) for k, v in extra.items())]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _telemetry() -> dict | None:
    """FastAPI's native OpenTelemetry (its defaults) when the process is set up for OpenTelemetry
    (an ``OTEL_*`` or ``FASTAPI_OTEL_AUTO_CONFIGURE`` variable); otherwise off, because even
    unconfigured it looks up the global tracer, meter and logger providers on every request."""
    if any(name.startswith("OTEL_") or name == "FASTAPI_OTEL_AUTO_CONFIGURE" for name in os.environ):
        return None
    return {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        telemetry=_telemetry(),
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
    app.add_middleware(RateLimitHeaders)
    # the busiest route's router first: a request is matched against the routes in this order
    for module in (analytics, auth, organizations, users, bookings, projects, reports, keys, webhooks):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(feeds.router)
    return app
