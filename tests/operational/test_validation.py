"""Validation helpers and the models' @validates hooks: slugs, ISO 4217 currencies, IANA zones, emails."""
from __future__ import annotations

import pytest

from operational.models import (
    Artist,
    Organization,
    Project,
    User,
    validate_currency,
    validate_email,
    validate_slug,
    validate_timezone,
)


@pytest.mark.parametrize("slug", ["ab", "acme", "northwind-records", "9lives", "a" * 63, "a--b"])
def test_valid_slugs(slug):
    assert validate_slug(slug) == slug


@pytest.mark.parametrize("slug", ["a", "-acme", "Acme", "acme_records", "acme records", "a" * 64, "", None, "ü-label"])
def test_invalid_slugs(slug):
    with pytest.raises(ValueError, match="invalid slug"):
        validate_slug(slug)


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "GBP", "CHF", "XOF", "BRL", "INR", "SEK", "CAD", "AUD"])
def test_known_currencies(code):
    assert validate_currency(code) == code


@pytest.mark.parametrize("code", ["usd", "US", "USDD", "ABC", "XXX", "XTS", "", None])
def test_unknown_currencies(code):
    with pytest.raises(ValueError, match="unknown currency"):
        validate_currency(code)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles", "Pacific/Kiritimati", "Asia/Kolkata"])
def test_known_time_zones(zone):
    assert validate_timezone(zone) == zone


@pytest.mark.parametrize("zone", ["Europe/Atlantis", "europe/berlin", "CEST", "+02:00", "", None])
def test_unknown_time_zones(zone):
    with pytest.raises(ValueError, match="unknown time zone"):
        validate_timezone(zone)


@pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@sub.example.org", "o'neil@example.com"])
def test_valid_emails(email):
    assert validate_email(email) == email


@pytest.mark.parametrize("email", ["", "plain", "a@b", "a@@b.com", "a b@c.com", "a@-b.com", "a@b..com",
                                   "x" * 250 + "@b.com", None])
def test_invalid_emails(email):
    with pytest.raises(ValueError, match="invalid email"):
        validate_email(email)


def test_models_validate_on_assignment():
    with pytest.raises(ValueError, match="invalid slug"):
        Organization(slug="Not A Slug")
    with pytest.raises(ValueError, match="invalid email"):
        User(email="nobody")
    with pytest.raises(ValueError, match="unknown currency"):
        Project(currency="EURO")
    with pytest.raises(ValueError, match="invalid email"):
        Project(client_email="client@")
    assert Artist(email=None).email is None  # optional emails may be empty
    with pytest.raises(ValueError, match="invalid email"):
        Artist(email="artist at example.com")
