"""A durable outbox: messages (webhook calls, e-mails) written with the change they report, delivered
later by a worker, retried with back-off, every attempt recorded, never lost.

- :func:`enqueue` adds a message to the caller's session: it commits (or rolls back) with the
  business write, so an event is recorded if and only if the change is.
- :func:`deliver_due` claims due messages, hands each to the sender of its channel, records the
  attempt and reschedules (exponential back-off with jitter, :func:`next_delay`) or marks the
  message ``delivered``, or ``dead`` once its attempts run out (or the sender says retrying is
  pointless). Dead messages stay, visible in the delivery log, and can be put back
  (:func:`requeue`).
- Claiming is safe across processes: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL,
  ``BEGIN IMMEDIATE`` on SQLite. A claim is a lease (``claim_token``, ``next_attempt_at`` moved
  :data:`LEASE` ahead) committed before any I/O, so no lock is held while a receiver answers; a
  worker that dies mid-delivery leaves the message to be claimed again once the lease ends
  (at-least-once delivery: receivers de-duplicate by the delivery id). A restart simply finds
  the pending messages.
- The decision after an attempt (:func:`decide`, :func:`next_delay`) is pure: no I/O.

PostgreSQL: the worker reads every tenant's messages, so it connects with the operational URL
(``AUDITORYX_OPERATIONAL_URL``: the owner, a superuser or ``BYPASSRLS`` role, as extraction does),
never with the web tier's row-level-security login.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import Engine, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from operational import rls
from operational.models import OUTBOX_CHANNELS, OutboxAttempt, OutboxMessage, new_id, utcnow
from operational.repository import rollback_keeping

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 10
"""With the default back-off: retried for about four hours before a message is dead."""
BASE_DELAY_SECONDS = 30.0
MAX_DELAY_SECONDS = 6 * 3600.0
JITTER = 0.25
LEASE = dt.timedelta(minutes=5)
"""How long a claimed message belongs to its worker (longer than any sender's time-out)."""
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class Message:
    """A claimed message, as a sender sees it (``attempt``: this attempt's number, from 1)."""

    id: str
    org_id: str
    channel: str
    event_type: str | None
    endpoint_id: str | None
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Outcome:
    """What a sender reports. ``permanent``: retrying cannot help (endpoint deleted, address
    refused): the message is dead at once."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False

    @classmethod
    def delivered(cls, status_code: int | None = None) -> Outcome:
        return cls(True, status_code)

    @classmethod
    def failed(cls, error: str, *, status_code: int | None = None, permanent: bool = False) -> Outcome:
        return cls(False, status_code, error, permanent)


Sender = Callable[[Message], Outcome]


@dataclass(frozen=True)
class Decision:
    """What happens to a message after an attempt: its new ``status``, the attempt's ``outcome``
    (delivered, failed = will retry, dead) and when to try again."""

    status: str
    outcome: str
    next_attempt_at: dt.datetime | None
    error: str | None


@dataclass
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{self.claimed} due: {self.delivered} delivered, {self.retrying} to retry, "
                f"{self.dead} dead")


# pure logic

def next_delay(attempt: int, *, base: float = BASE_DELAY_SECONDS, cap: float = MAX_DELAY_SECONDS,
               jitter: float = JITTER, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (from 1): ``base·2^(attempt-1)``,
    at most ``cap``, then spread uniformly over ±``jitter`` of itself so that messages failing
    together do not come back together."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    if not 0 <= jitter < 1:
        raise ValueError("jitter is a fraction in [0, 1)")
    delay = min(cap, base * 2.0 ** min(attempt - 1, 60))
    return delay * (1 - jitter + 2 * jitter * rand())


def decide(outcome: Outcome, attempt: int, max_attempts: int, now: dt.datetime, *,
           rand: Callable[[], float] = random.random) -> Decision:
    """The message's next state after attempt ``attempt`` of ``max_attempts`` ended with ``outcome``."""
    if outcome.ok:
        return Decision("delivered", "delivered", None, None)
    error = (outcome.error or (f"HTTP {outcome.status_code}" if outcome.status_code else "failed"))
    error = error[:MAX_ERROR_LENGTH]
    if outcome.permanent or attempt >= max_attempts:
        return Decision("dead", "dead", None, error)
    return Decision("pending", "failed", now + dt.timedelta(seconds=next_delay(attempt, rand=rand)), error)


# writing (in the caller's transaction)

def enqueue(session: Session, *, tenant_id: str, channel: str, payload: Mapping[str, Any],
            event_type: str | None = None, endpoint_id: str | None = None,
            max_attempts: int = DEFAULT_MAX_ATTEMPTS, available_at: dt.datetime | None = None) -> str:
    """Add a message to ``session`` (committed with the caller's transaction); its id."""
    if not tenant_id:
        raise ValueError("an outbox message needs a tenant")
    if channel not in OUTBOX_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: one of {', '.join(OUTBOX_CHANNELS)}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    payload = json.loads(json.dumps(payload))  # JSON only, and a copy the caller cannot change
    now = utcnow()
    message = OutboxMessage(id=new_id(), org_id=tenant_id, channel=channel, event_type=event_type,
                            endpoint_id=endpoint_id, payload=payload, status="pending", attempts=0,
                            max_attempts=max_attempts, next_attempt_at=available_at or now, created_at=now)
    session.add(message)
    return message.id


def requeue(session: Session, tenant_id: str, message_id: str, *, extra_attempts: int = DEFAULT_MAX_ATTEMPTS,
            now: dt.datetime | None = None) -> bool:
    """Put a dead message of this tenant back to pending with ``extra_attempts`` more; False if
    there is no such dead message."""
    message = session.scalars(select(OutboxMessage).where(
        OutboxMessage.org_id == tenant_id, OutboxMessage.id == message_id)).one_or_none()
    if message is None or message.status != "dead":
        return False
    message.status = "pending"
    message.max_attempts = message.attempts + max(1, extra_attempts)
    message.next_attempt_at = now or utcnow()
    message.claim_token = None
    session.flush()
    return True


# delivering (the worker)

def claim_due(engine: Engine, channels: Iterable[str], *, now: dt.datetime | None = None, limit: int = 50,
              lease: dt.timedelta = LEASE) -> tuple[str, list[Message]]:
    """Take up to ``limit`` due pending messages of ``channels`` for this worker: (claim token,
    messages). Committed before returning, so no lock outlives the claim."""
    now = now or utcnow()
    channels = sorted(set(channels))
    token = new_id()
    if not channels or limit < 1:
        return token, []
    due = (OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
           OutboxMessage.channel.in_(channels))
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # an idle round takes no write lock: look first (the index on status, next_attempt_at)
            if conn.execute(select(OutboxMessage.id).where(*due).limit(1)).first() is None:
                conn.rollback()
                return token, []
            conn.rollback()
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        with Session(bind=conn) as session:
            try:
                query = (select(OutboxMessage).where(*due)
                         .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                claimed = []
                for row in session.scalars(query):
                    row.attempts += 1
                    row.claim_token = token
                    row.next_attempt_at = now + lease
                    claimed.append(Message(id=row.id, org_id=row.org_id, channel=row.channel,
                                           event_type=row.event_type, endpoint_id=row.endpoint_id,
                                           payload=dict(row.payload or {}), attempt=row.attempts,
                                           max_attempts=row.max_attempts, created_at=row.created_at))
                session.flush()
                conn.commit()
            except BaseException as error:
                rollback_keeping(conn, error)
                raise
    return token, claimed


def record_attempt(engine: Engine, message: Message, token: str, outcome: Outcome, decision: Decision, *,
                   at: dt.datetime, duration_ms: int) -> bool:
    """Log the attempt and move the message on; False if this worker's lease was lost meanwhile
    (another worker claimed it again: the attempt is logged, the message left to that worker)."""
    with engine.begin() as conn:
        rls.tenant_scope(conn, message.org_id)  # harmless for the owner; lets a scoped role write
        conn.execute(insert(OutboxAttempt).values(
            id=new_id(), org_id=message.org_id, message_id=message.id, attempt=message.attempt, at=at,
            outcome=decision.outcome, status_code=outcome.status_code,
            error=decision.error, duration_ms=max(0, int(duration_ms))))
        values: dict[str, Any] = {"status": decision.status, "claim_token": None, "last_error": decision.error}
        if decision.status == "delivered":
            values["delivered_at"] = at
        if decision.next_attempt_at is not None:
            values["next_attempt_at"] = decision.next_attempt_at
        result = conn.execute(update(OutboxMessage)
                              .where(OutboxMessage.id == message.id, OutboxMessage.claim_token == token)
                              .values(**values))
        return result.rowcount == 1


def deliver_due(engine: Engine, senders: Mapping[str, Sender], *, now: dt.datetime | None = None,
                limit: int = 50, lease: dt.timedelta = LEASE,
                rand: Callable[[], float] = random.random) -> DeliveryReport:
    """One round: claim the due messages of the channels in ``senders``, deliver each, record
    every attempt. A sender's exception counts as a failed attempt (retried)."""
    clock = (lambda: now) if now is not None else utcnow
    token, messages = claim_due(engine, senders, now=clock(), limit=limit, lease=lease)
    report = DeliveryReport(claimed=len(messages))
    for message in messages:
        started = time.monotonic()
        try:
            outcome = senders[message.channel](message)
        except Exception as exc:  # noqa: BLE001 - a broken sender is a failed attempt, not a stop
            log.exception("outbox sender %s failed on message %s", message.channel, message.id)
            outcome = Outcome.failed(f"{type(exc).__name__}: {exc}")
        duration_ms = int((time.monotonic() - started) * 1000)
        at = clock()
        decision = decide(outcome, message.attempt, message.max_attempts, at, rand=rand)
        record_attempt(engine, message, token, outcome, decision, at=at, duration_ms=duration_ms)
        if decision.status == "delivered":
            report.delivered += 1
        elif decision.status == "dead":
            report.dead += 1
            report.errors.append(f"{message.id}: {decision.error}")
            log.warning("outbox message %s (%s, tenant %s) is dead after %d attempt(s): %s", message.id,
                        message.channel, message.org_id, message.attempt, decision.error)
        else:
            report.retrying += 1
    return report


def run_loop(engine: Engine, senders: Mapping[str, Sender], *, poll_seconds: float = 1.0, limit: int = 50,
             should_stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], object] = time.sleep) -> None:
    """Deliver until ``should_stop``: at once again while messages keep coming, else every
    ``poll_seconds``. A failed round (database unreachable) is logged and retried."""
    while not should_stop():
        try:
            report = deliver_due(engine, senders, limit=limit)
        except Exception:  # noqa: BLE001 - the loop outlives a bad round
            log.exception("outbox delivery round failed")
            report = DeliveryReport()
        if report.claimed:
            log.info("outbox: %s", report)
        if report.claimed < limit:
            sleep(poll_seconds)


# reading (the delivery log)

@dataclass(frozen=True)
class AttemptView:
    attempt: int
    at: dt.datetime
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class MessageView:
    id: str
    channel: str
    event_type: str | None
    endpoint_id: str | None
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    payload: dict[str, Any]
    log: tuple[AttemptView, ...] = ()


def delivery_log(session: Session, tenant_id: str, *, channel: str | None = None, endpoint_id: str | None = None,
                 status: str | None = None, message_id: str | None = None, limit: int = 50) -> list[MessageView]:
    """A tenant's messages, newest first, each with its attempts (oldest first)."""
    query = select(OutboxMessage).where(OutboxMessage.org_id == tenant_id)
    for column, value in ((OutboxMessage.channel, channel), (OutboxMessage.endpoint_id, endpoint_id),
                          (OutboxMessage.status, status), (OutboxMessage.id, message_id)):
        if value is not None:
            query = query.where(column == value)
    rows = list(session.scalars(query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id).limit(limit)))
    attempts: dict[str, list[AttemptView]] = {row.id: [] for row in rows}
    if rows:
        for a in session.scalars(select(OutboxAttempt).where(
                OutboxAttempt.org_id == tenant_id, OutboxAttempt.message_id.in_(list(attempts)))
                .order_by(OutboxAttempt.message_id, OutboxAttempt.attempt)):
            attempts[a.message_id].append(AttemptView(a.attempt, a.at, a.outcome, a.status_code, a.error,
                                                      a.duration_ms))
    return [MessageView(id=m.id, channel=m.channel, event_type=m.event_type, endpoint_id=m.endpoint_id,
                        status=m.status, attempts=m.attempts, max_attempts=m.max_attempts,
                        next_attempt_at=m.next_attempt_at if m.status == "pending" else None,
                        last_error=m.last_error, created_at=m.created_at, delivered_at=m.delivered_at,
                        payload=dict(m.payload or {}), log=tuple(attempts[m.id])) for m in rows]


def counts(engine: Engine) -> dict[str, int]:
    """Messages by status over every tenant (the worker's connection)."""
    with Session(engine) as session:
        rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    return {status: 0 for status in ("pending", "delivered", "dead")} | {status: n for status, n in rows}


# wiring for the workers (`auditoryx deliver`, `auditoryx worker`)

class OutboxDeliverer:
    """One delivery round per call, with the senders the settings allow: webhooks always,
    e-mail when ``AUDITORYX_SMTP_HOST`` is set. Until the operational database has the outbox
    table (before `auditoryx init`), a round does nothing and creates nothing."""

    def __init__(self, settings, *, limit: int = 50):
        self.settings = settings
        self.limit = limit
        self._engine: Engine | None = None
        self._senders: dict[str, Sender] | None = None

    def ready(self) -> bool:
        if self._engine is not None:
            return True
        from sqlalchemy.engine import make_url

        from operational.db import make_engine

        url = make_url(self.settings.operational_database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            from pathlib import Path

            if not Path(url.database).is_file():
                return False
        engine = make_engine(self.settings.operational_database_url)
        if not inspect(engine).has_table(OutboxMessage.__tablename__):
            engine.dispose()
            return False
        self._engine = engine
        return True

    @property
    def engine(self) -> Engine:
        if not self.ready():
            raise RuntimeError("the operational database has no outbox yet: run `auditoryx init`")
        return self._engine  # type: ignore[return-value]

    @property
    def senders(self) -> dict[str, Sender]:
        if self._senders is None:
            self._senders = default_senders(self.engine, self.settings)
        return self._senders

    def __call__(self, *, now: dt.datetime | None = None) -> DeliveryReport:
        if not self.ready():
            return DeliveryReport()
        return deliver_due(self.engine, self.senders, now=now, limit=self.limit)

    def close(self) -> None:
        for sender in (self._senders or {}).values():
            close = getattr(sender, "close", None)
            if close is not None:
                close()
        if self._engine is not None:
            self._engine.dispose()
        self._engine, self._senders = None, None


def default_senders(engine: Engine, settings) -> dict[str, Sender]:
    """The channels' senders from the settings (e-mail only when an SMTP host is set)."""
    from operational.email_delivery import SmtpSender
    from operational.webhooks import WebhookSender

    senders: dict[str, Sender] = {"webhook": WebhookSender(
        engine, timeout=settings.webhook_timeout_seconds, allow_local_http=settings.webhook_allow_local_http)}
    if settings.smtp_host:
        senders["email"] = SmtpSender.from_settings(settings)
    return senders
