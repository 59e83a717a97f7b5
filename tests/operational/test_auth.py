"""Login: same work for every failure, throttling across processes, server-side sessions that end
on logout, deactivation, role change, idle time and absolute expiry (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from operational import auth, throttle
from operational.models import LoginThrottle, Organization, User
from operational.throttle import ACCOUNT_POLICY, ThrottleState, after_failure, seconds_to_wait

PASSWORD = "correct horse battery staple"
T0 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone.utc)


@pytest.fixture
def people(migrated, tenants):
    """A's admin with a real password, plus a deactivated user of A."""
    a, b = tenants
    with Session(migrated) as session, session.begin():
        session.execute(update(User).values(password_hash=auth.hash_password(PASSWORD)))
        session.add(User(id="gone", org_id=a.id, email="gone@tenant-a.example", name="Gone", role="VIEWER",
                         password_hash=auth.hash_password(PASSWORD), is_active=False))
    return a, b


def test_login_returns_the_user_of_its_own_tenant(migrated, people):
    a, _b = people
    result = auth.authenticate(migrated, "  ADMIN@Tenant-A.example ", PASSWORD, now=T0)
    assert result.user is not None and result.user.tenant_id == a.id and not result.throttled
    assert result.user.actor().tenant_id == a.id


@pytest.mark.parametrize("email,password", [
    ("nobody@nowhere.example", PASSWORD),          # unknown
    ("gone@tenant-a.example", PASSWORD),           # deactivated user, right password
    ("admin@tenant-a.example", "wrong password!"),  # wrong password
    ("admin@tenant-b.example", PASSWORD),          # deactivated organization (below)
])
def test_every_failure_costs_the_same_work(migrated, people, monkeypatch, email, password):
    _a, b = people
    with Session(migrated) as session, session.begin():
        session.execute(update(Organization).where(Organization.id == b.id).values(is_active=False))
    verifications, writes = [], []
    real_verify, real_count = auth.verify_password, auth._count_failure
    monkeypatch.setattr(auth, "verify_password", lambda *args: verifications.append(1) or real_verify(*args))
    monkeypatch.setattr(auth, "_count_failure", lambda *args: writes.append(1) or real_count(*args))
    result = auth.authenticate(migrated, email, password, client_address="198.51.100.7", now=T0)
    assert result.user is None and not result.throttled
    assert (len(verifications), len(writes)) == (1, 1)


def test_a_login_page_of_another_tenant_refuses_like_a_wrong_password(migrated, people):
    a, b = people
    refused = auth.authenticate(migrated, "admin@tenant-b.example", PASSWORD, tenant_id=a.id, now=T0)
    assert refused.user is None and not refused.throttled
    with Session(migrated) as session:  # counted as a failure, and not a login
        assert session.get(LoginThrottle, throttle.account_key("admin@tenant-b.example")).failures == 1
        assert session.scalar(select(User.last_login_at).where(User.email == "admin@tenant-b.example")) is None
    assert auth.authenticate(migrated, "admin@tenant-a.example", PASSWORD, tenant_id=a.id, now=T0).user is not None


def test_failed_logins_take_about_as_long_whatever_the_reason(migrated, people):
    """Measured, loosely (the work itself is counted above): the old oracle answered a
    deactivated user ~600x faster than a wrong password."""
    import statistics
    import time

    def median_seconds(email, password):
        times = []
        for i in range(3):
            started = time.perf_counter()
            auth.authenticate(migrated, email, password, now=T0 + dt.timedelta(hours=2 * i))
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    wrong = median_seconds("admin@tenant-a.example", "wrong password!")
    for email in ("nobody@nowhere.example", "gone@tenant-a.example"):
        assert 0.33 < median_seconds(email, PASSWORD) / wrong < 3, email


def test_failures_slow_down_then_lock_the_account_across_engines(migrated, people, db_url):
    from operational.db import make_engine

    other_process = make_engine(db_url)  # a second pool, as another worker would have
    now = T0
    for attempt in range(ACCOUNT_POLICY.lockout_after - 1):
        engine = migrated if attempt % 2 else other_process
        result = auth.authenticate(engine, "admin@tenant-a.example", "wrong password!", now=now)
        assert result.user is None and not result.throttled
        if attempt + 1 < ACCOUNT_POLICY.free_failures:
            continue
        probe = auth.authenticate(engine, "admin@tenant-a.example", PASSWORD, now=now)
        assert probe.throttled and probe.user is None  # even the right password waits: nothing is checked
        assert probe.retry_after_seconds <= ACCOUNT_POLICY.max_delay_seconds
        now += dt.timedelta(seconds=probe.retry_after_seconds + 0.001)
    assert auth.authenticate(migrated, "admin@tenant-a.example", "wrong password!", now=now).user is None
    locked = auth.authenticate(migrated, "admin@tenant-a.example", PASSWORD, now=now)
    assert locked.throttled and locked.retry_after_seconds == pytest.approx(15 * 60, abs=1)
    later = now + ACCOUNT_POLICY.lockout + dt.timedelta(seconds=1)
    assert auth.authenticate(other_process, "admin@tenant-a.example", PASSWORD, now=later).user is not None
    with Session(migrated) as session:  # success clears the account's counter
        assert session.get(LoginThrottle, throttle.account_key("admin@tenant-a.example")) is None
    other_process.dispose()


def test_one_address_guessing_many_accounts_is_throttled(migrated, people):
    now = T0
    for i in range(throttle.ADDRESS_POLICY.free_failures + 1):
        auth.authenticate(migrated, f"guess{i}@nowhere.example", "x" * 12, client_address="203.0.113.9", now=now)
    assert auth.authenticate(migrated, "admin@tenant-a.example", PASSWORD, client_address="203.0.113.9",
                             now=now).throttled
    assert auth.authenticate(migrated, "admin@tenant-a.example", PASSWORD, client_address="192.0.2.1",
                             now=now).user is not None


def test_throttle_rules_are_pure_and_forget_after_a_quiet_hour():
    state = None
    for _ in range(ACCOUNT_POLICY.free_failures):
        state = after_failure(state, T0, ACCOUNT_POLICY)
    assert seconds_to_wait(state, T0, ACCOUNT_POLICY) == ACCOUNT_POLICY.base_delay_seconds
    state = after_failure(state, T0, ACCOUNT_POLICY)
    assert seconds_to_wait(state, T0, ACCOUNT_POLICY) == 2 * ACCOUNT_POLICY.base_delay_seconds
    quiet = T0 + ACCOUNT_POLICY.forget_after
    assert seconds_to_wait(state, quiet, ACCOUNT_POLICY) == 0
    assert after_failure(state, quiet, ACCOUNT_POLICY).failures == 1
    assert seconds_to_wait(ThrottleState(50, T0, T0 + dt.timedelta(minutes=5)), T0, ACCOUNT_POLICY) == 300


def _login(engine, email="admin@tenant-a.example", limits=auth.SessionLimits()):
    user = auth.authenticate(engine, email, PASSWORD, now=T0).user
    return user, auth.start_session(engine, user, limits=limits, now=T0)


def test_session_resumes_until_logout(migrated, people):
    a, _b = people
    user, token = _login(migrated)
    assert auth.resume_session(migrated, token, now=T0 + dt.timedelta(minutes=5)).tenant_id == a.id
    auth.end_session(migrated, token)
    assert auth.resume_session(migrated, token, now=T0 + dt.timedelta(minutes=6)) is None
    assert auth.resume_session(migrated, "not-a-token", now=T0) is None


def test_session_ends_when_idle_or_too_old(migrated, people):
    _user, token = _login(migrated)
    limits = auth.SessionLimits(idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=2))
    assert auth.resume_session(migrated, token, limits=limits, now=T0 + dt.timedelta(minutes=29)) is not None
    assert auth.resume_session(migrated, token, limits=limits, now=T0 + dt.timedelta(minutes=58)) is not None
    assert auth.resume_session(migrated, token, limits=limits, now=T0 + dt.timedelta(minutes=89)) is None  # idle
    _user, token = _login(migrated, limits=limits)
    now = T0
    while now < T0 + dt.timedelta(hours=2):  # active all along: the absolute limit still ends it
        assert auth.resume_session(migrated, token, limits=limits, now=now) is not None
        now += dt.timedelta(minutes=20)
    assert auth.resume_session(migrated, token, limits=limits, now=now) is None


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "VIEWER"}])
def test_deactivation_or_role_change_ends_live_sessions(migrated, people, change):
    a, _b = people
    user, token = _login(migrated)
    with Session(migrated) as session, session.begin():
        session.execute(update(User).where(User.id == user.user_id).values(**change))
    assert auth.resume_session(migrated, token, now=T0 + dt.timedelta(minutes=1)) is None


def test_a_token_from_one_tenant_never_shows_another(migrated, people):
    a, b = people
    _user_a, token_a = _login(migrated, "admin@tenant-a.example")
    _user_b, token_b = _login(migrated, "admin@tenant-b.example")
    assert auth.resume_session(migrated, token_a, now=T0).tenant_id == a.id
    assert auth.resume_session(migrated, token_b, now=T0).tenant_id == b.id
    with Session(migrated) as session:
        hashes = set(session.scalars(select(auth.UserSession.token_hash)))
    assert token_a not in hashes and token_b not in hashes  # only hashes are stored


def test_operator_opens_a_tenant_read_only_and_it_is_audited(migrated, people):
    from operational.audit import entries

    a, b = people
    with Session(migrated) as session, session.begin():
        session.execute(update(User).where(User.org_id == a.id, User.email == "admin@tenant-a.example")
                        .values(role="SUPER_ADMIN"))
    operator, token = _login(migrated)
    auth.view_tenant(migrated, token, operator, b.id, now=T0)
    viewing = auth.resume_session(migrated, token, now=T0)
    assert (viewing.tenant_id, viewing.read_only, viewing.own_tenant_id) == (b.id, True, a.id)
    from operational.permissions import check_permission

    assert check_permission(viewing.actor(), "bookings", "read")
    assert not check_permission(viewing.actor(), "bookings", "create")
    with Session(migrated) as session:
        assert [e.action for e in entries(session, b.id, entity="organizations")] == ["view_read_only"]
    auth.view_tenant(migrated, token, operator, None, now=T0)
    assert auth.resume_session(migrated, token, now=T0).tenant_id == a.id
