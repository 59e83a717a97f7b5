"""`auditoryx users` (create, list, reset-password) through typer's CliRunner: argon2 hashes that
log in, passwords shown once and hashes never, audited writes, one-line errors."""
from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from auditoryx.cli_users import users_app
from auditoryx.errors import AuditoryxError
from operational import audit
from operational.auth import authenticate
from operational.db import create_schema, make_engine
from operational.models import Organization

runner = CliRunner()


def login(engine, email: str, password: str):
    """The logged-in user, or None (``authenticate`` answers a result holding the user)."""
    result = authenticate(engine, email, password)
    return getattr(result, "user", result)


def users(*args: str, input: str | None = None):
    return runner.invoke(users_app, list(args), input=input)


def fails_with(result, message: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, AuditoryxError), result.output
    text = str(result.exception)
    assert message in text and len(text.splitlines()) == 1 and "$argon2" not in text


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, app_env, monkeypatch):
    """The operational database the CLI's settings point at (tmp SQLite, or a throwaway PostgreSQL)."""
    url = app_env.operational_database_url
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", url)
    engine = make_engine(url)
    create_schema(engine)
    with Session(engine) as session, session.begin():
        session.add_all([Organization(id="org-acme", name="Acme", slug="acme", type="RECORD_LABEL", plan="FREE"),
                         Organization(id="org-other", name="Other", slug="other", type="INDIVIDUAL", plan="FREE")])
    yield engine
    engine.dispose()


def test_create_list_reset_password(engine):
    created = users("create", "--tenant", "acme", "--email", "Ana@Acme.Example", "--name", "Ana", "--role", "org_admin")
    assert created.exit_code == 0, created.output
    (password,) = re.findall(r"generated password \(shown once\): (\S+)", created.output)
    assert "created ana@acme.example (ORG_ADMIN) in acme" in created.output
    who = login(engine, "ana@acme.example", password)
    assert (who.tenant_slug, who.role) == ("acme", "ORG_ADMIN")

    chosen = users("create", "--tenant", "other", "--email", "bo@other.example", "--name", "Bo", "--role", "VIEWER",
                   "--password", "correct horse battery")
    assert chosen.exit_code == 0 and "generated" not in chosen.output
    assert login(engine, "bo@other.example", "correct horse battery").tenant_slug == "other"

    listed = users("list", "--tenant", "acme")
    assert listed.exit_code == 0 and "ana@acme.example" in listed.output and "ORG_ADMIN" in listed.output
    assert "bo@other.example" not in listed.output  # another tenant's user
    assert "$argon2" not in listed.output and password not in listed.output

    reset = users("reset-password", "--email", "ANA@acme.example")
    assert reset.exit_code == 0, reset.output
    (new_password,) = re.findall(r"generated password \(shown once\): (\S+)", reset.output)
    assert login(engine, "ana@acme.example", password) is None
    assert login(engine, "ana@acme.example", new_password).tenant_id == "org-acme"
    with Session(engine) as session:
        actions = [(e.action, e.entity) for e in audit.entries(session, "org-acme")]
        assert actions == [("create", "users"), ("update", "users")]
        assert "$argon2" not in str([(e.before, e.after) for e in audit.entries(session, "org-acme")])


def test_prompted_password(engine):
    result = users("create", "--tenant", "acme", "--email", "cy@acme.example", "--name", "Cy", "--role", "CREATOR",
                   "--prompt-password", input="typed secret 1\ntyped secret 1\n")
    assert result.exit_code == 0, result.output
    assert "typed secret 1" not in result.output and "generated" not in result.output
    assert login(engine, "cy@acme.example", "typed secret 1") is not None


def test_errors_are_one_clear_line(engine):
    base = ["--name", "N", "--role", "VIEWER"]
    assert users("create", "--tenant", "acme", "--email", "dup@acme.example", *base).exit_code == 0
    fails_with(users("create", "--tenant", "other", "--email", "DUP@acme.example", *base),
               "a user with email dup@acme.example already exists")
    fails_with(users("create", "--tenant", "nope", "--email", "x@acme.example", *base), "no tenant with slug 'nope'")
    fails_with(users("create", "--tenant", "acme", "--email", "x@acme.example", "--name", "N", "--role", "BOSS"),
               "invalid role 'BOSS'")
    fails_with(users("create", "--tenant", "acme", "--email", "not-an-email", *base), "invalid email address")
    fails_with(users("create", "--tenant", "acme", "--email", "y@acme.example", *base, "--password", "short pw"),
               "at least 10 characters")
    fails_with(users("create", "--tenant", "acme", "--email", "y@acme.example", *base, "--password", "Password123"),
               "too common")
    fails_with(users("reset-password", "--email", "ghost@acme.example"), "no user with email ghost@acme.example")
    fails_with(users("list", "--tenant", "Bad Slug!"), "invalid tenant slug")


def test_uninitialized_database(app_env):
    fails_with(users("list", "--tenant", "acme"), "run `auditoryx init`")
