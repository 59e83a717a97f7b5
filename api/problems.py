"""Errors as RFC 9457 problem details (``application/problem+json``), one shape for every route.

:func:`problem_for` maps the services' exceptions to a status and a title; nothing else in the
API decides what an error means.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from auditoryx.errors import AuditoryxError
from operational.api_keys import InvalidApiKey
from operational.api_tokens import InvalidToken
from operational.booking_rules import BookingError
from operational.bookings import BookingConflict
from operational.feeds import InvalidFeedToken
from operational.idempotency import IdempotencyInProgress, IdempotencyMismatch, InvalidIdempotencyKey
from operational.permissions import PermissionDenied
from operational.repository import NotFoundError, TenantScopeError
from operational.roster import PlanLimitReached
from operational.users import DuplicateEmail
from operational.webhooks import WebhookError
from warehouse.reader import SnapshotNotFound

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://auditoryx.example/problems/"
log = logging.getLogger(__name__)


class Unauthorized(AuditoryxError):
    """No credentials, or credentials that are not valid."""


class RateLimited(AuditoryxError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit reached: retry in {retry_after:.1f} s")
        self.retry_after = retry_after


_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (Unauthorized, 401, "unauthorized"),
    (InvalidApiKey, 401, "unauthorized"),
    (InvalidToken, 401, "unauthorized"),
    (PermissionDenied, 403, "forbidden"),
    (NotFoundError, 404, "not-found"),
    (TenantScopeError, 404, "not-found"),
    (InvalidFeedToken, 404, "not-found"),
    (SnapshotNotFound, 404, "not-published"),
    (BookingConflict, 409, "booking-conflict"),
    (DuplicateEmail, 409, "duplicate"),
    (PlanLimitReached, 409, "plan-limit"),
    (WebhookError, 422, "invalid-webhook"),
    (IdempotencyInProgress, 409, "idempotency-in-progress"),
    (IdempotencyMismatch, 422, "idempotency-mismatch"),
    (InvalidIdempotencyKey, 400, "bad-idempotency-key"),
    (RateLimited, 429, "rate-limited"),
    (BookingError, 422, "invalid-booking"),
    (AuditoryxError, 422, "invalid-request"),
    (ValueError, 422, "invalid-request"),
)
TITLES = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict", 400: "Bad request",
          422: "Unprocessable content", 429: "Too many requests", 500: "Internal server error"}


def is_known(exc: BaseException) -> bool:
    return any(isinstance(exc, cls) for cls, _status, _slug in _STATUS)


def problem_for(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(status, problem body) for a service exception."""
    for cls, status, slug in _STATUS:
        if isinstance(exc, cls):
            break
    else:
        return 500, {"type": "about:blank", "title": TITLES[500], "status": 500,
                     "detail": "an unexpected error occurred; it was logged"}
    detail = str(exc)
    if isinstance(exc, (NotFoundError, TenantScopeError)):
        detail = "no such resource in your organization"  # never say whether it exists elsewhere
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": TITLES[status], "status": status, "detail": detail}
    if isinstance(exc, BookingError):
        body["errors"] = exc.errors
    if isinstance(exc, BookingConflict):
        body["conflicts"] = [{"booking_id": c.id, "title": c.title, "start": c.start.isoformat(),
                              "end": c.end.isoformat(), "status": c.status} for c in exc.conflicts]
        body["next_free_start"] = exc.next_free_start.isoformat()
    return status, body


def problem_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app) -> None:
    """Register the handlers that turn every error into a problem response."""

    async def service_error(request: Request, exc: Exception):
        status, body = problem_for(exc)
        if status == 500:
            log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.4999)))
        body["instance"] = request.url.path
        return problem_response(status, body, headers)

    async def http_error(request: Request, exc: HTTPException):
        body = {"type": "about:blank", "title": TITLES.get(exc.status_code, "Error"), "status": exc.status_code,
                "detail": str(exc.detail), "instance": request.url.path}
        return problem_response(exc.status_code, body, dict(exc.headers or {}))

    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [{"location": list(map(str, error.get("loc", ()))), "message": error.get("msg", "")}
                  for error in exc.errors()]
        body = {"type": TYPE_BASE + "invalid-request", "title": TITLES[422], "status": 422,
                "detail": "the request does not match the API's schema", "errors": errors,
                "instance": request.url.path}
        return problem_response(422, body)

    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    for cls in dict.fromkeys(cls for cls, _status, _slug in _STATUS):
        app.add_exception_handler(cls, service_error)
    app.add_exception_handler(Exception, service_error)  # 500, logged
