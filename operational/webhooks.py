"""Webhooks: an organization's endpoints, events written to the outbox, signed HTTP delivery.

Endpoints (the organization settings page, the API, the CLI call these): :func:`create_endpoint`,
:func:`list_endpoints`, :func:`get_endpoint`, :func:`update_endpoint`, :func:`delete_endpoint`,
:func:`rotate_secret`, :func:`reveal_secret`, :func:`deliveries`, :func:`redeliver`. Each takes
``(engine, actor, …)``, asks the permission module (``settings``: UPDATE for writes, READ for
reads), acts only in ``actor.tenant_id`` (another tenant's endpoint is "not found") and audits
every change (``audit_log``, entity ``webhook_endpoints``; secrets never enter the log).

Events: :func:`emit` is called inside the write transaction of the change it reports (the
booking service, exports), and enqueues one outbox message per active endpoint of the tenant
subscribed to the event: the event is recorded if and only if the change commits.

Delivery (:class:`WebhookSender`, the outbox's ``webhook`` channel): ``POST`` of the JSON body
with headers ``AuditoryX-Event``, ``AuditoryX-Delivery`` (the message id, stable across
retries: de-duplicate on it) and ``AuditoryX-Signature: t=<unix>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256 of ``f"{t}.{body}"`` with the endpoint's secret (during a rotation, a second ``v1``
with the previous secret). A 2xx answer is delivered; anything else, a time-out or a connection
error is retried with back-off. Receivers check with :func:`verify_signature`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets as secrets_module
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit, outbox, rls
from operational.models import Booking, Organization, OutboxMessage, WebhookEndpoint, new_id, utcnow
from operational.permissions import Action, Actor, Resource, require_permission
from operational.repository import NotFoundError, TenantRepository, write_transaction

EVENTS = ("booking.created", "booking.updated", "booking.cancelled", "export.ready")
ALL_EVENTS = "*"
SIGNATURE_HEADER = "AuditoryX-Signature"
EVENT_HEADER = "AuditoryX-Event"
DELIVERY_HEADER = "AuditoryX-Delivery"
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
ROTATION_GRACE = dt.timedelta(hours=24)
MAX_ENDPOINTS = 20
MAX_URL_LENGTH = 2000
SECRET_PREFIX = "whsec_"
USER_AGENT = "AuditoryX-Webhooks/1"
ENTITY = "webhook_endpoints"
LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain"})

__all__ = [
    "DELIVERY_HEADER", "EVENTS", "EVENT_HEADER", "EndpointView", "NotFoundError", "SIGNATURE_HEADER",
    "WebhookError", "WebhookSender", "body_bytes", "booking_data", "create_endpoint", "delete_endpoint",
    "deliveries", "emit", "emit_booking", "get_endpoint", "list_endpoints", "redeliver", "reveal_secret",
    "rotate_secret", "sign", "signature_header", "update_endpoint", "validate_events", "validate_url",
    "verify_signature",
]


class WebhookError(AuditoryxError):
    """An endpoint that cannot be saved (URL, events, too many endpoints)."""


# pure: URLs, events, bodies, signatures

def _is_local(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (address.is_loopback or address.is_private or address.is_link_local or address.is_reserved
            or address.is_unspecified or address.is_multicast)


def validate_url(url: str, *, allow_local_http: bool = False) -> str:
    """An https URL to a public host; with ``allow_local_http`` (tests, development) also http and
    local or private hosts. Credentials in the URL are refused (they would be logged)."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("a webhook needs a URL")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # noqa: F841 - raises on a bad port
    except ValueError as exc:
        raise WebhookError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookError(f"invalid URL {url!r}: expected https://host/path")
    if parts.username or parts.password:
        raise WebhookError("a webhook URL cannot carry a user name or password")
    if parts.fragment:
        raise WebhookError("a webhook URL cannot have a #fragment")
    local = _is_local(parts.hostname)
    if not allow_local_http:
        if parts.scheme != "https":
            raise WebhookError(f"webhook URLs must use https: {url!r}")
        if local:
            raise WebhookError(f"webhook URLs must reach a public host, not {parts.hostname!r}")
    return url


def validate_events(events: Iterable[str]) -> list[str]:
    """Known event types (or ``*`` for every one), de-duplicated and sorted; at least one."""
    if isinstance(events, str):
        events = [events]
    names = sorted({str(e).strip() for e in events or () if str(e).strip()})
    unknown = [name for name in names if name not in EVENTS and name != ALL_EVENTS]
    if unknown or not names:
        raise WebhookError(f"invalid webhook event(s) {', '.join(unknown) or '(none)'}: choose among "
                           f"{', '.join(EVENTS)} or '*'")
    return [ALL_EVENTS] if ALL_EVENTS in names else names


def subscribes(events: Sequence[str], event_type: str) -> bool:
    return ALL_EVENTS in events or event_type in events


def new_secret() -> str:
    return SECRET_PREFIX + secrets_module.token_urlsafe(32)


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` with ``secret``."""
    message = str(int(timestamp)).encode("ascii") + b"." + _as_bytes(body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], body: bytes | str, timestamp: int) -> str:
    """``t=<unix>,v1=<hex>[,v1=<hex>…]``: one signature per secret (current first)."""
    if not secrets:
        raise ValueError("at least one secret signs")
    return ",".join([f"t={int(timestamp)}", *(f"{SIGNATURE_VERSION}={sign(s, timestamp, body)}" for s in secrets)])


def verify_signature(secret: str, header: str | None, body: bytes | str, *, tolerance: int = TOLERANCE_SECONDS,
                     now: float | None = None) -> bool:
    """For receivers: does ``header`` (``AuditoryX-Signature``) carry a ``v1`` signature of
    ``body`` made with ``secret``, with a timestamp within ``tolerance`` seconds of ``now``?
    ``body`` must be the raw request body, byte for byte."""
    if not secret or not header:
        return False
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == SIGNATURE_VERSION and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


# endpoints (the service)

@dataclass(frozen=True)
class EndpointView:
    """What pages and the API show of an endpoint: never the secret (only its last characters)."""

    id: str
    url: str
    description: str | None
    events: tuple[str, ...]
    is_active: bool
    secret_hint: str
    rotating_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


def _view(endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> EndpointView:
    now = now or utcnow()
    rotating = endpoint.previous_secret_expires_at
    return EndpointView(id=endpoint.id, url=endpoint.url, description=endpoint.description,
                        events=tuple(endpoint.events or ()), is_active=bool(endpoint.is_active),
                        secret_hint="…" + endpoint.secret[-4:],
                        rotating_until=rotating if endpoint.previous_secret and rotating and rotating > now else None,
                        created_at=endpoint.created_at, updated_at=endpoint.updated_at)


def _audited(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {key: value for key, value in audit.snapshot(endpoint).items()
            if key not in ("secret", "previous_secret")}


def _allow_local(allow_local_http: bool | None) -> bool:
    if allow_local_http is not None:
        return allow_local_http
    from auditoryx.settings import get_settings

    return get_settings().webhook_allow_local_http


def _transaction(engine: Engine, actor: Actor):
    return write_transaction(engine, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)


def _record(session: Session, actor: Actor, action: str, endpoint_id: str, before, after) -> None:
    audit.record(session, tenant_id=actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id,
                 action=action, entity=ENTITY, entity_id=endpoint_id, before=before, after=after)


def _require(session: Session, actor: Actor, endpoint_id: str, *, lock: bool = False) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.org_id == actor.tenant_id, WebhookEndpoint.id == endpoint_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    endpoint = session.scalars(query).one_or_none()
    if endpoint is None:
        raise NotFoundError(f"no webhook endpoint {endpoint_id!r} in this organization")
    return endpoint


def _read_session(engine: Engine, actor: Actor) -> Session:
    session = Session(engine)
    TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
    return session


def create_endpoint(engine: Engine, actor: Actor, *, url: str, events: Iterable[str],
                    description: str | None = None, allow_local_http: bool | None = None) -> tuple[EndpointView, str]:
    """A new active endpoint; returns it and its signing secret (also available later through
    :func:`reveal_secret`)."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    url = validate_url(url, allow_local_http=_allow_local(allow_local_http))
    events = validate_events(events)
    description = _description(description)
    secret = new_secret()
    with _transaction(engine, actor) as (session, repo):
        repo.organization()  # NotFoundError for a tenant that does not exist
        if session.get_bind().dialect.name == "postgresql":  # one count at a time per tenant
            session.execute(select(Organization.id).where(Organization.id == actor.tenant_id).with_for_update())
        existing = session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.org_id == actor.tenant_id)).all()
        if len(existing) >= MAX_ENDPOINTS:
            raise WebhookError(f"at most {MAX_ENDPOINTS} webhook endpoints per organization")
        now = utcnow()
        endpoint = WebhookEndpoint(id=new_id(), org_id=actor.tenant_id, url=url, description=description,
                                   events=events, secret=secret, is_active=True, created_by_id=actor.user_id,
                                   created_at=now, updated_at=now)
        session.add(endpoint)
        session.flush()
        _record(session, actor, "create", endpoint.id, None, _audited(endpoint))
        return _view(endpoint), secret


def _description(description: str | None) -> str | None:
    if description is None:
        return None
    description = description.strip()
    if len(description) > 200:
        raise WebhookError("a description has at most 200 characters")
    return description or None


def list_endpoints(engine: Engine, actor: Actor) -> list[EndpointView]:
    require_permission(actor, Resource.SETTINGS, Action.READ)
    with _read_session(engine, actor) as session:
        rows = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.org_id == actor.tenant_id)
                               .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id))
        return [_view(e) for e in rows]


def get_endpoint(engine: Engine, actor: Actor, endpoint_id: str) -> EndpointView:
    require_permission(actor, Resource.SETTINGS, Action.READ)
    with _read_session(engine, actor) as session:
        return _view(_require(session, actor, endpoint_id))


_UNSET: Any = object()


def update_endpoint(engine: Engine, actor: Actor, endpoint_id: str, *, url: str | None = None,
                    events: Iterable[str] | None = None, description: str | None = _UNSET,
                    is_active: bool | None = None, allow_local_http: bool | None = None) -> EndpointView:
    """Change the URL, events, description or active flag (only what is given)."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = validate_url(url, allow_local_http=_allow_local(allow_local_http))
    if events is not None:
        changes["events"] = validate_events(events)
    if description is not _UNSET:
        changes["description"] = _description(description)
    if is_active is not None:
        changes["is_active"] = bool(is_active)
    with _transaction(engine, actor) as (session, _repo):
        endpoint = _require(session, actor, endpoint_id, lock=True)
        before = {key: audit.jsonable(getattr(endpoint, key)) for key in changes}
        changed = {key: value for key, value in changes.items() if audit.jsonable(value) != before[key]}
        if changed:
            for key, value in changed.items():
                setattr(endpoint, key, value)
            endpoint.updated_at = utcnow()
            session.flush()
            _record(session, actor, "update", endpoint.id, {k: before[k] for k in changed},
                    {k: audit.jsonable(v) for k, v in changed.items()})
        return _view(endpoint)


def delete_endpoint(engine: Engine, actor: Actor, endpoint_id: str) -> None:
    """Remove an endpoint. Its messages stay in the delivery log; pending ones become dead."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    with _transaction(engine, actor) as (session, _repo):
        endpoint = _require(session, actor, endpoint_id, lock=True)
        before = _audited(endpoint)
        mine = (OutboxMessage.org_id == actor.tenant_id, OutboxMessage.endpoint_id == endpoint_id)
        session.execute(update(OutboxMessage).where(*mine, OutboxMessage.status == "pending").values(
            status="dead", claim_token=None, last_error="the webhook endpoint was deleted"))
        session.execute(update(OutboxMessage).where(*mine).values(endpoint_id=None))
        session.delete(endpoint)
        session.flush()
        _record(session, actor, "delete", endpoint_id, before, None)


def rotate_secret(engine: Engine, actor: Actor, endpoint_id: str, *, grace: dt.timedelta = ROTATION_GRACE,
                  now: dt.datetime | None = None) -> tuple[EndpointView, str]:
    """A new signing secret; the old one still signs (a second ``v1``) for ``grace`` so that
    receivers can switch without losing a delivery. Returns the endpoint and the new secret."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    now = now or utcnow()
    secret = new_secret()
    with _transaction(engine, actor) as (session, _repo):
        endpoint = _require(session, actor, endpoint_id, lock=True)
        endpoint.previous_secret = endpoint.secret if grace > dt.timedelta(0) else None
        endpoint.previous_secret_expires_at = now + grace if grace > dt.timedelta(0) else None
        endpoint.secret = secret
        endpoint.updated_at = now
        session.flush()
        _record(session, actor, "rotate_secret", endpoint.id, None,
                {"previous_secret_expires_at": audit.jsonable(endpoint.previous_secret_expires_at)})
        return _view(endpoint, now), secret


def reveal_secret(engine: Engine, actor: Actor, endpoint_id: str) -> str:
    """The current signing secret (for the people who configure the receiver: settings UPDATE)."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    with _read_session(engine, actor) as session:
        return _require(session, actor, endpoint_id).secret


def deliveries(engine: Engine, actor: Actor, *, endpoint_id: str | None = None, status: str | None = None,
               limit: int = 50) -> list[outbox.MessageView]:
    """The tenant's webhook delivery log, newest first, each message with its attempts."""
    require_permission(actor, Resource.SETTINGS, Action.READ)
    with _read_session(engine, actor) as session:
        if endpoint_id is not None:
            _require(session, actor, endpoint_id)
        return outbox.delivery_log(session, actor.tenant_id, channel="webhook", endpoint_id=endpoint_id,
                                   status=status, limit=max(1, min(limit, 500)))


def redeliver(engine: Engine, actor: Actor, message_id: str) -> None:
    """Put a dead webhook delivery back in the queue (a fresh series of attempts); audited."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    with _transaction(engine, actor) as (session, _repo):
        views = outbox.delivery_log(session, actor.tenant_id, channel="webhook", message_id=message_id, limit=1)
        if not views:
            raise NotFoundError(f"no webhook delivery {message_id!r} in this organization")
        if not outbox.requeue(session, actor.tenant_id, message_id):
            raise WebhookError(f"delivery {message_id!r} is {views[0].status}: only a dead delivery is sent again")
        _record(session, actor, "redeliver", views[0].endpoint_id or message_id, None, {"message_id": message_id})


# events

def emit(session: Session, actor_or_tenant: Actor | str, event_type: str, data: Mapping[str, Any], *,
         event_id: str | None = None) -> list[str]:
    """Enqueue ``event_type`` with ``data`` for every active endpoint of the tenant subscribed to
    it, in ``session``'s transaction; the outbox message ids (none without a subscriber)."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}: one of {', '.join(EVENTS)}")
    tenant_id = actor_or_tenant.tenant_id if isinstance(actor_or_tenant, Actor) else actor_or_tenant
    if not tenant_id:
        raise ValueError("an event needs a tenant")
    endpoints = session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events)
        .where(WebhookEndpoint.org_id == tenant_id, WebhookEndpoint.is_active.is_(True))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)).all()
    targets = [endpoint_id for endpoint_id, events in endpoints if subscribes(events or (), event_type)]
    if not targets:
        return []
    event = {"id": event_id or new_id(), "type": event_type, "created_at": utcnow().isoformat(),
             "organization_id": tenant_id, "data": audit.jsonable(dict(data))}
    return [outbox.enqueue(session, tenant_id=tenant_id, channel="webhook", payload=event, event_type=event_type,
                           endpoint_id=endpoint_id) for endpoint_id in targets]


BOOKING_FIELDS = ("id", "title", "type", "status", "payment_status", "artist_id", "project_id", "client_id",
                  "start_date", "end_date", "duration_minutes", "timezone", "location", "is_remote", "budget",
                  "final_price", "currency", "created_at", "updated_at")


def booking_data(booking: Booking) -> dict[str, Any]:
    """A booking as webhook receivers get it (UTC times in ISO 8601, exact amounts as text)."""
    return {name: audit.jsonable(getattr(booking, name)) for name in BOOKING_FIELDS}


def status_event(status: str) -> str:
    """The event of a status change: ``booking.cancelled`` into CANCELLED, else ``booking.updated``."""
    return "booking.cancelled" if str(status) == "CANCELLED" else "booking.updated"


def emit_booking(session: Session, actor: Actor, booking: Booking, event_type: str) -> list[str]:
    """:func:`emit` of a booking event (``booking.created``/``updated``/``cancelled``)."""
    return emit(session, actor, event_type, booking_data(booking))


# delivery

class WebhookSender:
    """The outbox's ``webhook`` channel: signs and POSTs one message to its endpoint.

    The endpoint is read at delivery time (current URL and secrets; a deleted or deactivated
    endpoint makes the message dead), with the worker's connection scoped to the message's
    tenant."""

    def __init__(self, engine: Engine, *, timeout: float = 10.0, client=None, allow_local_http: bool = False):
        import httpx

        self.engine = engine
        self.timeout = timeout
        self.allow_local_http = allow_local_http
        self._own_client = client is None
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False,
                                             headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def _endpoint(self, message: outbox.Message) -> tuple[str, list[str], bool, list[str]] | None:
        if message.endpoint_id is None:
            return None
        with self.engine.begin() as conn:
            rls.tenant_scope(conn, message.org_id)
            row = conn.execute(select(WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEndpoint.previous_secret,
                                      WebhookEndpoint.previous_secret_expires_at, WebhookEndpoint.is_active,
                                      WebhookEndpoint.events)
                               .where(WebhookEndpoint.org_id == message.org_id,
                                      WebhookEndpoint.id == message.endpoint_id)).one_or_none()
        if row is None:
            return None
        url, secret, previous, expires, active, events = row
        signing = [secret]
        if previous and expires is not None and expires > utcnow():
            signing.append(previous)
        return url, signing, bool(active), list(events or ())

    def __call__(self, message: outbox.Message) -> outbox.Outcome:
        import httpx

        found = self._endpoint(message)
        if found is None:
            return outbox.Outcome.failed("the webhook endpoint was deleted", permanent=True)
        url, signing, active, _events = found
        if not active:
            return outbox.Outcome.failed("the webhook endpoint is deactivated", permanent=True)
        try:
            validate_url(url, allow_local_http=self.allow_local_http)
        except WebhookError as exc:
            return outbox.Outcome.failed(str(exc), permanent=True)
        body = body_bytes(message.payload)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(signing, body, int(time.time())),
            EVENT_HEADER: message.event_type or "",
            DELIVERY_HEADER: message.id,
        }
        if not self.allow_local_http:
            private = _private_address(urlsplit(url).hostname or "", urlsplit(url).port or 443)
            if private:
                return outbox.Outcome.failed(f"the webhook host resolves to a non-public address ({private})")
        try:
            with self.client.stream("POST", url, content=body, headers=headers, timeout=self.timeout) as response:
                status = response.status_code
                snippet = b""
                if not 200 <= status < 300:  # read at most a little of an error page
                    for chunk in response.iter_bytes():
                        snippet += chunk
                        if len(snippet) >= 200:
                            break
        except httpx.TimeoutException:
            return outbox.Outcome.failed(f"no answer within {self.timeout:g}s")
        except httpx.HTTPError as exc:
            return outbox.Outcome.failed(f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= status < 300:
            return outbox.Outcome.delivered(status)
        text = snippet[:200].decode("utf-8", "replace").strip()
        return outbox.Outcome.failed(f"HTTP {status}" + (f": {text}" if text else ""), status_code=status)


def _private_address(host: str, port: int) -> str | None:
    """The first loopback/private/link-local address ``host`` resolves to, if any (a public
    name pointing inside the network is refused; an unresolvable one is left to the HTTP client)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        address = str(info[4][0])
        if _is_local(address.split("%", 1)[0]):
            return address
    return None
