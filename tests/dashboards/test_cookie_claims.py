"""One-time claim codes: single use, short-lived, never the token itself."""
from __future__ import annotations

from dashboards import cookie_claims


def test_a_code_is_redeemed_once_and_is_not_the_token():
    code = cookie_claims.register("session-token", now=100.0)
    assert code != "session-token" and "session-token" not in code
    assert cookie_claims.redeem(code, now=101.0) == "session-token"
    assert cookie_claims.redeem(code, now=101.0) is None


def test_a_code_expires():
    code = cookie_claims.register("session-token", now=100.0)
    assert cookie_claims.redeem(code, now=100.0 + cookie_claims.CLAIM_SECONDS) is None
    assert cookie_claims.redeem("made-up", now=100.0) is None
