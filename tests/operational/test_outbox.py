"""The durable outbox: back-off (pure), enqueue in the caller's transaction, claim, retry, dead
letters, leases and restarts, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from operational import outbox
from operational.db import make_engine
from operational.models import OutboxAttempt, OutboxMessage
from operational.outbox import Outcome, decide, next_delay
from tests.operational.delivery_fixtures import db_url, delivery_template, migrated, tenants  # noqa: F401

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=UTC)


# pure

def test_next_delay_doubles_caps_and_jitters_within_bounds():
    assert [next_delay(n, rand=lambda: 0.5) for n in (1, 2, 3, 4)] == [30.0, 60.0, 120.0, 240.0]
    assert next_delay(40, rand=lambda: 0.5) == outbox.MAX_DELAY_SECONDS  # capped, no overflow
    assert next_delay(1000, rand=lambda: 0.5) == outbox.MAX_DELAY_SECONDS
    assert next_delay(3, rand=lambda: 0.0) == 120.0 * (1 - outbox.JITTER)
    assert next_delay(3, rand=lambda: 0.999999) == pytest.approx(120.0 * (1 + outbox.JITTER), rel=1e-5)
    assert next_delay(2, base=1, jitter=0, rand=lambda: 0.9) == 2.0
    with pytest.raises(ValueError):
        next_delay(0)
    with pytest.raises(ValueError):
        next_delay(1, jitter=1.5)


def test_decide_delivered_retry_dead():
    assert decide(Outcome.delivered(200), 1, 3, NOW).status == "delivered"
    retry = decide(Outcome.failed("HTTP 500", status_code=500), 1, 3, NOW, rand=lambda: 0.5)
    assert (retry.status, retry.outcome, retry.error) == ("pending", "failed", "HTTP 500")
    assert retry.next_attempt_at == NOW + dt.timedelta(seconds=30)
    last = decide(Outcome.failed("HTTP 500"), 3, 3, NOW)
    assert (last.status, last.outcome, last.next_attempt_at) == ("dead", "dead", None)
    gone = decide(Outcome.failed("endpoint deleted", permanent=True), 1, 10, NOW)
    assert gone.status == "dead"
    assert decide(Outcome(False, 503), 1, 3, NOW).error == "HTTP 503"
    assert len(decide(Outcome.failed("x" * 10_000), 1, 3, NOW).error) == outbox.MAX_ERROR_LENGTH


# with a database

def _enqueue(engine, tenant_id: str, payload=None, **kwargs) -> str:
    kwargs.setdefault("available_at", NOW)  # due at the tests' NOW, whatever the real clock says
    with Session(engine) as session, session.begin():
        return outbox.enqueue(session, tenant_id=tenant_id, channel="email", payload=payload or {"n": 1}, **kwargs)


def _attempts(engine, message_id: str) -> list[tuple]:
    with Session(engine) as session:
        return [(a.attempt, a.outcome, a.status_code, a.error) for a in session.scalars(
            select(OutboxAttempt).where(OutboxAttempt.message_id == message_id).order_by(OutboxAttempt.attempt))]


def _message(engine, message_id: str) -> OutboxMessage:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(OutboxMessage, message_id)


def test_enqueue_commits_and_rolls_back_with_the_callers_transaction(migrated, tenants):
    a, _ = tenants
    with pytest.raises(RuntimeError):
        with Session(migrated) as session, session.begin():
            outbox.enqueue(session, tenant_id=a.id, channel="email", payload={"x": 1})
            raise RuntimeError("the business write failed")
    kept = _enqueue(migrated, a.id)
    with Session(migrated) as session:
        assert session.scalars(select(OutboxMessage.id)).all() == [kept]
    with pytest.raises(ValueError, match="unknown channel"):
        with Session(migrated) as session:
            outbox.enqueue(session, tenant_id=a.id, channel="sms", payload={})
    with pytest.raises(TypeError):
        with Session(migrated) as session:
            outbox.enqueue(session, tenant_id=a.id, channel="email", payload={"x": object()})


def test_failures_are_retried_with_back_off_then_delivered(migrated, tenants):
    a, _ = tenants
    message_id = _enqueue(migrated, a.id, {"to": "x"})
    answers = iter([Outcome.failed("HTTP 500", status_code=500), RuntimeError("connection reset"),
                    Outcome.delivered(204)])
    seen = []

    def sender(message):
        seen.append((message.id, message.attempt, message.payload))
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    report = outbox.deliver_due(migrated, {"email": sender}, now=NOW, rand=lambda: 0.5)
    assert (report.claimed, report.retrying) == (1, 1)
    assert _message(migrated, message_id).next_attempt_at == NOW + dt.timedelta(seconds=30)
    assert outbox.deliver_due(migrated, {"email": sender}, now=NOW + dt.timedelta(seconds=29)).claimed == 0  # not due
    outbox.deliver_due(migrated, {"email": sender}, now=NOW + dt.timedelta(seconds=31), rand=lambda: 0.5)
    report = outbox.deliver_due(migrated, {"email": sender}, now=NOW + dt.timedelta(hours=1))
    assert report.delivered == 1
    assert [s[1] for s in seen] == [1, 2, 3] and seen[0][2] == {"to": "x"}
    assert _attempts(migrated, message_id) == [(1, "failed", 500, "HTTP 500"),
                                               (2, "failed", None, "RuntimeError: connection reset"),
                                               (3, "delivered", 204, None)]
    done = _message(migrated, message_id)
    assert (done.status, done.attempts, done.claim_token, done.delivered_at) == ("delivered", 3, None,
                                                                                 NOW + dt.timedelta(hours=1))
    assert outbox.deliver_due(migrated, {"email": sender}, now=NOW + dt.timedelta(days=9)).claimed == 0


def test_dead_after_max_attempts_is_kept_visible_and_can_be_requeued(migrated, tenants):
    a, b = tenants
    message_id = _enqueue(migrated, a.id, max_attempts=2)
    failing = lambda message: Outcome.failed("550 mailbox unavailable")  # noqa: E731
    outbox.deliver_due(migrated, {"email": failing}, now=NOW)
    report = outbox.deliver_due(migrated, {"email": failing}, now=NOW + dt.timedelta(days=1))
    assert report.dead == 1 and report.errors == [f"{message_id}: 550 mailbox unavailable"]
    with Session(migrated) as session:
        [view] = outbox.delivery_log(session, a.id)
        assert (view.status, view.attempts, view.next_attempt_at) == ("dead", 2, None)
        assert [x.outcome for x in view.log] == ["failed", "dead"]
        assert outbox.delivery_log(session, b.id) == []  # another tenant sees nothing
    assert outbox.counts(migrated) == {"pending": 0, "delivered": 0, "dead": 1}
    assert outbox.deliver_due(migrated, {"email": failing}, now=NOW + dt.timedelta(days=30)).claimed == 0
    with Session(migrated) as session, session.begin():
        assert not outbox.requeue(session, b.id, message_id)  # not B's message
        assert outbox.requeue(session, a.id, message_id, extra_attempts=1, now=NOW + dt.timedelta(days=2))
    delivered = outbox.deliver_due(migrated, {"email": lambda m: Outcome.delivered()}, now=NOW + dt.timedelta(days=2))
    assert delivered.delivered == 1 and [row[0] for row in _attempts(migrated, message_id)] == [1, 2, 3]


def test_only_channels_with_a_sender_are_claimed(migrated, tenants):
    a, _ = tenants
    _enqueue(migrated, a.id)
    assert outbox.deliver_due(migrated, {"webhook": lambda m: Outcome.delivered()}, now=NOW).claimed == 0
    assert outbox.counts(migrated)["pending"] == 1


def test_a_restart_resumes_pending_and_an_abandoned_claim_after_its_lease(migrated, tenants, db_url):
    a, _ = tenants
    first = _enqueue(migrated, a.id, {"n": 1}, available_at=NOW - dt.timedelta(seconds=1))
    second = _enqueue(migrated, a.id, {"n": 2})
    token, claimed = outbox.claim_due(migrated, ["email"], now=NOW, limit=1)  # then the worker "dies"
    assert [m.id for m in claimed] == [first]
    migrated.dispose()
    engine = make_engine(db_url)  # a new process
    try:
        got = []
        report = outbox.deliver_due(engine, {"email": lambda m: got.append(m.id) or Outcome.delivered()}, now=NOW)
        assert got == [second] and report.delivered == 1  # the claimed one waits for its lease
        later = NOW + outbox.LEASE + dt.timedelta(seconds=1)
        outbox.deliver_due(engine, {"email": lambda m: got.append(m.id) or Outcome.delivered()}, now=later)
        assert got == [second, first]
        assert _attempts(engine, first) == [(2, "delivered", None, None)]  # attempt 1 never came back
        # the first worker finishing late does not overwrite the new state
        dead = outbox.Decision("dead", "dead", None, "late")
        stale = outbox.Message(first, a.id, "email", None, None, {}, 1, 10, NOW)
        assert not outbox.record_attempt(engine, stale, token, Outcome.failed("late"), dead, at=later, duration_ms=1)
        assert _message(engine, first).status == "delivered"
    finally:
        engine.dispose()


def test_concurrent_workers_never_deliver_a_message_twice(migrated, tenants, db_url):
    a, _ = tenants
    with Session(migrated) as session, session.begin():
        ids = {outbox.enqueue(session, tenant_id=a.id, channel="email", payload={"n": n}) for n in range(30)}
    delivered: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def sender(message):
        with lock:
            delivered.append(message.id)
        return Outcome.delivered()

    def worker():
        engine = make_engine(db_url)
        try:
            for _ in range(10):
                outbox.deliver_due(engine, {"email": sender}, limit=4)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(delivered) == sorted(ids)  # each exactly once
    assert outbox.counts(migrated) == {"pending": 0, "delivered": 30, "dead": 0}


def test_postgresql_app_role_enqueues_in_its_tenant_only(migrated, tenants):
    a, b = tenants
    _enqueue(migrated, b.id, {"secret": "B"})
    with migrated.begin() as conn:
        conn.execute(text("SET LOCAL ROLE auditoryx_app"))
        conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": a.id})
        with Session(bind=conn) as session:
            outbox.enqueue(session, tenant_id=a.id, channel="email", payload={"mine": True})
            session.flush()
            assert [m.payload for m in session.scalars(select(OutboxMessage))] == [{"mine": True}]
    with pytest.raises(Exception, match="row-level security"):
        with migrated.begin() as conn:
            conn.execute(text("SET LOCAL ROLE auditoryx_app"))
            conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": a.id})
            with Session(bind=conn) as session:
                outbox.enqueue(session, tenant_id=b.id, channel="email", payload={"forged": True})
                session.flush()
    with pytest.raises(Exception, match="permission denied"):  # the app never writes the log
        with migrated.begin() as conn:
            conn.execute(text("SET LOCAL ROLE auditoryx_app"))
            conn.execute(text("DELETE FROM outbox_attempts"))
