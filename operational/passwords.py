"""Password rules, applied whenever a password is set: on creation, reset and change.

A password must have at least :data:`MIN_LENGTH` and at most :data:`MAX_LENGTH` characters, must
not be a common password (``common_passwords.txt``, compared case-insensitively) and must not be
the user's e-mail address or its local part. Generated passwords (:func:`generate_password`)
always pass. A refused password raises :class:`WeakPassword`, whose message names the rule and
never repeats the password.
"""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from auditoryx.errors import AuditoryxError

MIN_LENGTH = 10
MAX_LENGTH = 256
COMMON_PASSWORDS_FILE = Path(__file__).resolve().with_name("common_passwords.txt")


class WeakPassword(AuditoryxError):
    """A password that breaks one of the rules (the message says which)."""


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The refused common passwords, lower-case (read once, on first use)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip() and not line.startswith("#"))


def check_password(password: str, *, email: str | None = None) -> str:
    """``password`` if it follows the rules, else :class:`WeakPassword` naming the broken rule."""
    if not isinstance(password, str):
        raise WeakPassword("a password is required")
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
    folded = password.strip().casefold()
    if folded in common_passwords():
        raise WeakPassword("this password is too common: choose one that is not on lists of common passwords")
    if email:
        address = email.strip().casefold()
        local_part = address.partition("@")[0]
        if folded in (address, local_part):
            raise WeakPassword("a password cannot be the e-mail address or its local part")
    return password


def generate_password() -> str:
    """A random password (20 characters, 120 bits): always follows the rules."""
    while True:
        password = secrets.token_urlsafe(15)
        if password.casefold() not in common_passwords():  # never happens; keeps the promise anyway
            return password
