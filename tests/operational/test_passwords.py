"""Password rules: length, common passwords (case-insensitive), not the e-mail address."""
from __future__ import annotations

import pytest

from auditoryx.errors import AuditoryxError
from operational import passwords
from operational.passwords import MAX_LENGTH, MIN_LENGTH, WeakPassword, check_password, generate_password


@pytest.mark.parametrize("password", ["auditoryx-demo", "correct horse battery staple", "x" * MIN_LENGTH,
                                      "é" * MAX_LENGTH, "Tr0ub4dor&3 but longer"])
def test_good_passwords_pass(password):
    assert check_password(password, email="ana@acme.example") == password


@pytest.mark.parametrize("password, rule", [
    ("short", "at least 10 characters"),
    ("nine char", "at least 10 characters"),
    ("x" * (MAX_LENGTH + 1), "at most 256 characters"),
    ("password123", "too common"),
    ("PASSWORD123", "too common"),
    ("qwertyuiop", "too common"),
    ("QwertyUiop", "too common"),
    ("Password1!", "too common"),
    ("1234567890", "too common"),
    ("iloveyou123", "too common"),
])
def test_weak_passwords_fail_naming_the_rule(password, rule):
    with pytest.raises(WeakPassword, match=rule) as caught:
        check_password(password)
    assert isinstance(caught.value, AuditoryxError)
    assert password not in str(caught.value)  # never echoed


@pytest.mark.parametrize("password", ["ana.lopez.music@acme.example", "ANA.LOPEZ.MUSIC@ACME.EXAMPLE",
                                      "Ana.Lopez.Music", " ana.lopez.music "])
def test_the_email_address_or_its_local_part_is_refused(password):
    with pytest.raises(WeakPassword, match="e-mail address or its local part"):
        check_password(password, email="Ana.Lopez.Music@acme.example")
    assert check_password(password, email="someone.else@acme.example") == password


def test_a_password_is_required():
    with pytest.raises(WeakPassword, match="required"):
        check_password(None)  # type: ignore[arg-type]


def test_generated_passwords_always_pass():
    for _ in range(200):
        password = generate_password()
        assert len(password) == 20
        assert check_password(password, email="someone@acme.example") == password


def test_the_list_is_loaded_once_and_is_lower_case():
    passwords.common_passwords.cache_clear()
    first = passwords.common_passwords()
    assert passwords.common_passwords() is first
    assert len(first) >= 300
    assert all(word == word.casefold() and not word.startswith("#") for word in first)
    assert {"password123", "qwertyuiop", "password1!"} <= first
    assert "auditoryx-demo" not in first and "correct horse battery staple" not in first
