"""`auditoryx tenants …` and the user-administration verbs of `auditoryx users …` through the
registered command (typer's CliRunner on the main app, and the installed script for one-line
errors): created tenants log in, changes are audited, errors are one clear line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from auditoryx.cli import app
from auditoryx.errors import AuditoryxError
from operational import audit
from operational.auth import verify_password
from operational.db import create_schema, make_engine
from operational.models import Organization, User

runner = CliRunner()
AUDITORYX = str(Path(sys.executable).with_name("auditoryx"))
GOOD = "correct horse battery staple"


def cli(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def fails_with(result, message: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, AuditoryxError), result.output
    text = str(result.exception)
    assert message in text and len(text.splitlines()) == 1 and "$argon2" not in text, text


def generated(output: str) -> str:
    (password,) = re.findall(r"generated password \(shown once\): (\S+)", output)
    return password


@pytest.fixture
def engine(app_env):
    engine = make_engine(app_env.operational_database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def org(engine, slug: str) -> Organization:
    with Session(engine) as session:
        return session.query(Organization).filter_by(slug=slug).one()


def password_hash(engine, email: str) -> str:
    with Session(engine) as session:
        return session.query(User).filter_by(email=email).one().password_hash


CREATE = ["tenants", "create", "--name", "Nova Sound", "--slug", "nova-sound", "--type", "RECORD_LABEL",
          "--plan", "FREE", "--currency", "EUR", "--timezone", "Europe/Lisbon",
          "--admin-email", "Boss@Nova-Sound.example", "--admin-name", "Bea Boss"]


def test_tenants_create_list_set_plan_deactivate_reactivate(engine):
    created = cli(*CREATE)
    assert created.exit_code == 0, created.output
    assert "created tenant nova-sound (Nova Sound, RECORD_LABEL, FREE) with admin boss@nova-sound.example" in created.output
    assert verify_password(password_hash(engine, "boss@nova-sound.example"), generated(created.output))

    typed = cli("tenants", "create", "--name", "Echo Studio", "--slug", "echo", "--type", "production_studio",
                "--plan", "studio_pro", "--currency", "usd", "--timezone", "America/New_York",
                "--admin-email", "eve@echo.example", "--admin-name", "Eve", "--prompt-password",
                input=f"{GOOD}\n{GOOD}\n")
    assert typed.exit_code == 0, typed.output
    assert GOOD not in typed.output and "generated" not in typed.output
    assert verify_password(password_hash(engine, "eve@echo.example"), GOOD)

    listed = cli("tenants", "list")
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[0]: line for line in listed.output.splitlines()[1:]}
    assert set(lines) == {"echo", "nova-sound"}
    assert "STUDIO_PRO" in lines["echo"] and "PRODUCTION_STUDIO" in lines["echo"] and " yes " in lines["echo"]

    assert "nova-sound is now on the plan LABEL_ENTERPRISE" in cli("tenants", "set-plan", "--tenant", "nova-sound",
                                                                   "--plan", "label_enterprise").output
    assert "deactivated nova-sound" in cli("tenants", "deactivate", "--tenant", "nova-sound").output
    assert org(engine, "nova-sound").is_active is False
    fails_with(cli("tenants", "deactivate", "--tenant", "nova-sound"), "already inactive")
    assert " no " in [line for line in cli("tenants", "list").output.splitlines() if line.startswith("nova-sound")][0]
    assert "reactivated nova-sound" in cli("tenants", "reactivate", "--tenant", "nova-sound").output
    nova = org(engine, "nova-sound")
    assert (nova.is_active, str(nova.plan)) == (True, "LABEL_ENTERPRISE")

    with Session(engine) as session:
        log = [(e.action, e.entity, e.actor_id) for e in audit.entries(session, nova.id)]
    assert log == [("create", "organizations", None), ("create", "users", None)] + [("update", "organizations", None)] * 3


def test_tenants_errors_are_one_clear_line(engine):
    assert cli(*CREATE).exit_code == 0
    fails_with(cli(*CREATE), "an organization with slug 'nova-sound' already exists")
    other = ["--slug", "other-one", "--admin-email", "new@other.example"]
    fails_with(cli(*CREATE, *other[:2]), "a user with email boss@nova-sound.example already exists")
    fails_with(cli(*[a if a != "EUR" else "EURO" for a in CREATE], *other), "unknown currency 'EURO'")
    fails_with(cli(*[a if a != "Europe/Lisbon" else "Lisbon" for a in CREATE], *other), "unknown time zone 'Lisbon'")
    fails_with(cli(*[a if a != "FREE" else "GOLD" for a in CREATE], *other), "invalid plan 'GOLD'")
    fails_with(cli(*CREATE, *other, "--admin-password", "qwertyuiop"), "too common")
    fails_with(cli(*[a if a != "nova-sound" else "Nova Sound!" for a in CREATE], *other[2:]), "invalid slug")
    fails_with(cli("tenants", "deactivate", "--tenant", "nope"), "no tenant with slug 'nope'")
    fails_with(cli("tenants", "set-plan", "--tenant", "nova-sound", "--plan", "FREE"), "already on the plan FREE")
    with Session(engine) as session:
        assert session.query(Organization).count() == 1


def test_installed_command_prints_one_line(engine):
    assert subprocess.run([AUDITORYX, "tenants", "--help"], capture_output=True, text=True).returncode == 0
    result = subprocess.run([AUDITORYX, "tenants", "reactivate", "--tenant", "ghost"], capture_output=True,
                            text=True, env=os.environ.copy())
    assert result.returncode == 1 and result.stderr.strip() == "error: no tenant with slug 'ghost'"


def test_users_set_role_deactivate_activate(engine):
    assert cli(*CREATE).exit_code == 0
    assert cli("users", "create", "--tenant", "nova-sound", "--email", "mo@nova.example", "--name", "Mo",
               "--role", "VIEWER").exit_code == 0
    assert "mo@nova.example is now ACCOUNTANT in nova-sound" in cli(
        "users", "set-role", "--tenant", "nova-sound", "--email", "MO@nova.example", "--role", "accountant").output
    assert "deactivated mo@nova.example" in cli("users", "deactivate", "--tenant", "nova-sound",
                                                "--email", "mo@nova.example").output
    assert " no " in [line for line in cli("users", "list", "--tenant", "nova-sound").output.splitlines()
                      if line.startswith("mo@")][0]
    assert "reactivated mo@nova.example" in cli("users", "activate", "--tenant", "nova-sound",
                                                "--email", "mo@nova.example").output
    fails_with(cli("users", "set-role", "--tenant", "nova-sound", "--email", "boss@nova-sound.example",
                   "--role", "VIEWER"), "last active ORG_ADMIN")
    fails_with(cli("users", "deactivate", "--tenant", "nova-sound", "--email", "boss@nova-sound.example"),
               "last active ORG_ADMIN")
    fails_with(cli("users", "set-role", "--tenant", "nova-sound", "--email", "mo@nova.example",
                   "--role", "SUPER_ADMIN"), "SUPER_ADMIN role cannot be given")
    fails_with(cli("users", "activate", "--tenant", "nova-sound", "--email", "ghost@nova.example"),
               "no user with email ghost@nova.example in this organization")
    with Session(engine) as session:
        tenant_id = session.query(Organization.id).filter_by(slug="nova-sound").scalar()
        user_id = session.query(User.id).filter_by(email="mo@nova.example").scalar()
        log = [(e.action, e.after) for e in audit.entries(session, tenant_id, entity="users", entity_id=user_id)]
    assert [after for _, after in log[1:]] == [{"role": "ACCOUNTANT"}, {"is_active": False}, {"is_active": True}]


def test_users_bulk_create(engine, tmp_path):
    assert cli(*CREATE).exit_code == 0
    file = tmp_path / "users.csv"
    file.write_text("email,name,role,password\n"
                    "ann@nova.example,Ann,VIEWER,\n"
                    "ben@nova.example,Ben,LABEL_MANAGER,correct horse battery staple\n"
                    "broken,Broken,VIEWER,\n"
                    "BOSS@nova-sound.example,Boss Again,VIEWER,\n"
                    "cat@nova.example,Cat,VIEWER,password123\n", encoding="utf-8")
    result = cli("users", "bulk-create", "--tenant", "nova-sound", "--file", str(file))
    assert result.exit_code == 1, result.output  # some rows were not created
    lines = result.output.splitlines()
    assert re.match(r"row 2 +created +ann@nova\.example +generated password \(shown once\): \S+", lines[0])
    assert re.match(r"row 3 +created +ben@nova\.example *$", lines[1])
    assert re.match(r"row 4 +invalid +broken +invalid email address", lines[2])
    assert re.match(r"row 5 +duplicate +boss@nova-sound\.example +a user with email boss@nova-sound\.example already exists",
                    lines[3])
    assert re.match(r"row 6 +invalid +cat@nova\.example +this password is too common", lines[4])
    assert lines[5] == "2 of 5 users created in nova-sound"
    assert "password123" not in result.output
    assert verify_password(password_hash(engine, "ann@nova.example"), generated(lines[0]))

    clean = tmp_path / "more.csv"
    clean.write_text("email,name,role\ndan@nova.example,Dan,VIEWER\n", encoding="utf-8")
    again = cli("users", "bulk-create", "--tenant", "nova-sound", "--file", str(clean))
    assert again.exit_code == 0 and "1 of 1 users created" in again.output
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("mail;name;role\n", encoding="utf-8")
    fails_with(cli("users", "bulk-create", "--tenant", "nova-sound", "--file", str(bad_header)), "unexpected CSV header")
