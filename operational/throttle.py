"""Login throttling rules (pure): growing delays after a few failures, then a temporary lockout.

Two counters apply to every attempt: one per account (the typed email, whether or not it exists,
so the answer reveals nothing) and one per client address (many accounts guessed from one place).
The state lives in ``login_throttle`` (operational/auth.py) so it holds across processes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int         # failures allowed before any delay
    base_delay_seconds: float  # the first delay, doubling with every further failure
    max_delay_seconds: float
    lockout_after: int         # this many failures lock the key…
    lockout: dt.timedelta      # …for this long
    forget_after: dt.timedelta  # a quiet period after which failures are forgotten


ACCOUNT_POLICY = ThrottlePolicy(free_failures=3, base_delay_seconds=2, max_delay_seconds=60,
                                lockout_after=10, lockout=dt.timedelta(minutes=15),
                                forget_after=dt.timedelta(hours=1))
ADDRESS_POLICY = ThrottlePolicy(free_failures=20, base_delay_seconds=1, max_delay_seconds=30,
                                lockout_after=100, lockout=dt.timedelta(minutes=15),
                                forget_after=dt.timedelta(hours=1))


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    last_failure_at: dt.datetime
    locked_until: dt.datetime | None = None


def account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def address_key(address: str) -> str:
    return "address:" + hashlib.sha256(address.strip().encode()).hexdigest()


def seconds_to_wait(state: ThrottleState | None, now: dt.datetime, policy: ThrottlePolicy) -> float:
    """How long this key must wait before its next attempt is even checked (0: go ahead)."""
    if state is None:
        return 0.0
    if state.locked_until is not None and state.locked_until > now:
        return (state.locked_until - now).total_seconds()
    if now - state.last_failure_at >= policy.forget_after or state.failures < policy.free_failures:
        return 0.0
    delay = min(policy.base_delay_seconds * 2 ** (state.failures - policy.free_failures),
                policy.max_delay_seconds)
    return max(0.0, delay - (now - state.last_failure_at).total_seconds())


def after_failure(state: ThrottleState | None, now: dt.datetime, policy: ThrottlePolicy) -> ThrottleState:
    """The key's state once one more failure is counted."""
    forgotten = state is None or now - state.last_failure_at >= policy.forget_after
    failures = 1 if forgotten else state.failures + 1
    locked_until = None if forgotten else state.locked_until
    if failures >= policy.lockout_after:
        locked_until = now + policy.lockout
    return ThrottleState(failures=failures, last_failure_at=now, locked_until=locked_until)
