"""What every route gets: the caller (from the API key or token only), their rate limit, the
engine, the analytics reader, and idempotent execution of writes.

The tenant is the caller's: it comes from the key or the signed token and nowhere else; no route
takes a tenant id.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.problems import MEDIA_TYPE, RateLimited, Unauthorized, is_known, problem_for
from api.serialize import plain
from auditoryx.settings import Settings
from operational import api_keys, idempotency, rate_limits
from operational.api_tokens import TOKEN_PREFIX, verify_token
from operational.auth import SessionUser, active_user
from operational.permissions import Actor, api_key_actor
from operational.repository import TenantRepository
from warehouse.tenant_analytics import TenantAnalytics

PLAN_CACHE_SECONDS = 60.0
TOUCH_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key (``kind="api_key"``) or a person with a token (``"user"``)."""

    actor: Actor
    kind: str
    id: str
    user: SessionUser | None = None

    @property
    def tenant_id(self) -> str:
        return self.actor.tenant_id

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    analytics: TenantAnalytics
    token_secret: bytes
    _limits: dict[str, tuple[float, int]] = field(default_factory=dict)
    _touched: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached_requests_per_minute(self, tenant_id: str) -> int | None:
        """The tenant's limit if read less than a minute ago, else None (no I/O)."""
        cached = self._limits.get(tenant_id)
        return cached[1] if cached and cached[0] > time.monotonic() else None

    def requests_per_minute(self, tenant_id: str) -> int:
        """The tenant's limit from its plan and settings (re-read at most once a minute)."""
        now = time.monotonic()
        cached = self._limits.get(tenant_id)
        if cached and cached[0] > now:
            return cached[1]
        with Session(self.engine) as session:
            org = TenantRepository(session, tenant_id).organization()
            limit = rate_limits.limit_for(str(org.plan), org.settings or {})
        self._limits[tenant_id] = (now + PLAN_CACHE_SECONDS, limit)
        return limit

    def touch(self, identity: api_keys.KeyIdentity) -> None:
        now = time.monotonic()
        with self._lock:
            if self._touched.get(identity.key_id, 0.0) > now:
                return
            self._touched[identity.key_id] = now + TOUCH_SECONDS
        api_keys.touch_key(self.engine, identity)


def token_secret(settings: Settings) -> bytes:
    """AUDITORYX_API_TOKEN_SECRET, or a random secret generated once into var/api_token_secret
    (mode 0600) so that every API process of this machine signs alike."""
    if settings.api_token_secret:
        return settings.api_token_secret.encode("utf-8")
    path = Path(settings.resolved_var_dir) / "api_token_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)  # first writer wins; the others read its secret
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


async def get_context(request: Request) -> ApiContext:
    """Async on purpose: no I/O, so no thread-pool hop (a sync dependency costs one)."""
    return request.app.state.context


def authenticate(request: Request, context: ApiContext) -> Principal:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized("send 'Authorization: Bearer <API key or token>'")
    if credential.startswith(api_keys.KEY_PREFIX):
        identity = api_keys.authenticate_key(context.engine, credential)
        _remember_key(credential, identity)
        context.touch(identity)
        return Principal(api_key_actor(identity.tenant_id, identity.key_id, identity.scopes), "api_key",
                         identity.key_id)
    if credential.startswith(TOKEN_PREFIX):
        claims = verify_token(context.token_secret, credential)
        user = active_user(context.engine, claims.tenant_id, claims.user_id)
        if user is None:
            raise Unauthorized("invalid or expired token")
        return Principal(user.actor(), "user", user.user_id, user)
    raise Unauthorized("invalid API key or token")


# API keys seen valid by this process: SHA-256 of the secret -> (tenant id, key id), which never
# change for a secret. It only tells the combined PostgreSQL path below which buckets to lock; the
# key itself (revocation, expiry, organization, scopes) is read again on every request.
_KNOWN_KEYS: dict[str, tuple[str, str]] = {}
_KNOWN_KEYS_MAX = 10_000


def _remember_key(secret: str, identity: api_keys.KeyIdentity) -> None:
    if len(_KNOWN_KEYS) >= _KNOWN_KEYS_MAX:
        _KNOWN_KEYS.clear()
    _KNOWN_KEYS[api_keys.key_hash(secret)] = (identity.tenant_id, identity.key_id)


async def _known_key_request(request: Request, context: ApiContext) -> tuple[Principal, rate_limits.Decision] | None:
    """PostgreSQL, an API key this process has seen: the key checked (revoked, expired, inactive
    organization: 401 at once), its last use stamped and its rate-limit buckets taken in one
    statement and one round trip (``rate_limits.take_for_key_async``, on the event loop: no
    thread; no token is taken when the key no longer works). None: take the usual path."""
    if context.engine.dialect.name != "postgresql":
        return None
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential.startswith(api_keys.KEY_PREFIX) or len(credential) > 200:
        return None
    digest = api_keys.key_hash(credential)
    known = _KNOWN_KEYS.get(digest)
    if known is None:
        return None
    tenant_id, key_id = known
    per_minute = context.cached_requests_per_minute(tenant_id)
    if per_minute is None:  # read from the database at most once a minute: in a thread
        per_minute = await run_in_threadpool(context.requests_per_minute, tenant_id)
    limits = rate_limits.limits_for(tenant_id, f"api_key:{key_id}", per_minute)
    now = time.time()
    result = await rate_limits.take_for_key_async(context.engine, tenant_id, limits, digest, now=now)
    if result is None:  # no such key (any more) in this tenant
        _KNOWN_KEYS.pop(digest, None)
        return None
    decision, row = result
    try:
        identity = api_keys.identity_of_row(row, dt.datetime.fromtimestamp(now, dt.timezone.utc))
        if decision is None:  # the database found the key no longer working
            raise api_keys.InvalidApiKey("invalid API key")
    except api_keys.InvalidApiKey:
        _KNOWN_KEYS.pop(digest, None)
        raise
    return Principal(api_key_actor(identity.tenant_id, identity.key_id, identity.scopes), "api_key",
                     identity.key_id), decision


_DB_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_DB_SLOTS_LOCK = threading.Lock()


def _db_slots(engine: Engine) -> threading.BoundedSemaphore:
    """How many requests of this process check callers against the database at once: the
    engine's pool size less one (at least one). More would open overflow connections that the
    pool closes again right after (a new PostgreSQL backend per request under load: measured at
    46 connections a second with 50 clients); the rest wait here, a few hundred microseconds."""
    slots = _DB_SLOTS.get(id(engine))
    if slots is None:
        size = getattr(engine.pool, "size", lambda: 5)()
        with _DB_SLOTS_LOCK:
            slots = _DB_SLOTS.setdefault(id(engine), threading.BoundedSemaphore(max(1, size - 1)))
    return slots


def _check_and_take(request: Request, context: ApiContext) -> tuple[Principal, rate_limits.Decision]:
    """The usual path (in a thread): the caller's key or token checked, then the rate-limit take."""
    with _db_slots(context.engine):
        caller = authenticate(request, context)
        per_minute = context.requests_per_minute(caller.tenant_id)
        return caller, rate_limits.take(context.engine, caller.tenant_id,
                                        rate_limits.limits_for(caller.tenant_id, caller.name, per_minute))


async def principal(request: Request, context: ApiContext = Depends(get_context)) -> Principal:
    """The authenticated caller, after taking one request from their rate-limit buckets. Async:
    a key this process has seen is checked on the event loop (no thread-pool hop, which cost
    about a quarter of a cached dashboard request's CPU); anything else goes to a thread."""
    known = await _known_key_request(request, context)
    if known is not None:
        caller, decision = known
    else:
        caller, decision = await run_in_threadpool(_check_and_take, request, context)
    return _limited(request, caller, decision)


def _limited(request: Request, caller: Principal, decision: rate_limits.Decision) -> Principal:
    headers = {
        "RateLimit-Policy": f"{decision.limit.per_minute};w=60",
        "RateLimit-Limit": str(decision.limit.per_minute),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(max(0, round(decision.reset_after))),
    }
    request.state.rate_headers = headers  # api.app.RateLimitHeaders adds them to the response
    if not decision.allowed:
        raise RateLimited(decision.retry_after)
    return caller


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    fingerprint: str


async def idempotency_key(request: Request) -> IdempotentRequest | None:
    """The request's ``Idempotency-Key`` and a fingerprint of what it asks (method, path, body)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    body = await request.body()
    return IdempotentRequest(idempotency.check_key(key),
                             idempotency.request_hash(request.method, request.url.path, body))


def run_write(context: ApiContext, caller: Principal, request: IdempotentRequest | None,
              produce: Callable[[], Any], *, status_code: int = 200) -> Response:
    """Run a write once per Idempotency-Key: a retry gets the first answer (success or a 4xx
    problem), marked ``Idempotent-Replayed: true``; without a key, just run it."""
    if request is None:
        return JSONResponse(jsonable_encoder(plain(produce())), status_code=status_code)
    engine, tenant = context.engine, caller.tenant_id
    stored = idempotency.reserve(engine, tenant, caller.name, request.key, request.fingerprint)
    if stored is not None:
        return Response(stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"},
                        media_type=MEDIA_TYPE if stored.status_code >= 400 else "application/json")
    try:
        status, body = status_code, json.dumps(jsonable_encoder(plain(produce())))
    except Exception as exc:
        status, problem = problem_for(exc)
        if not is_known(exc) or status >= 500 or isinstance(exc, RateLimited):
            idempotency.release(engine, tenant, caller.name, request.key)
            raise
        body = json.dumps(problem)
    except BaseException:
        idempotency.release(engine, tenant, caller.name, request.key)
        raise
    idempotency.complete(engine, tenant, caller.name, request.key, idempotency.StoredResponse(status, body))
    return Response(body, status_code=status, media_type=MEDIA_TYPE if status >= 400 else "application/json")


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Query datetimes without an offset are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value
