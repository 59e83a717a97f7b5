"""Login and session costs, against a bare argon2 verification measured in the same run.

Prints, per backend (SQLite file; PostgreSQL as the row-level-security login when reachable):
- median time of a successful login and of each failure kind (unknown email, deactivated user,
  wrong password), as a ratio to one argon2 verify: failures must cost about the same;
- median time of resuming a session (what every Streamlit rerun pays), in milliseconds.

Usage: .venv/bin/python benchmarks/login_sessions.py [--repeat 15] [--pg-url URL]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from operational import auth  # noqa: E402
from operational.db import create_schema, ensure_app_login, make_engine  # noqa: E402
from operational.models import Organization, User  # noqa: E402

PASSWORD = "correct horse battery staple"


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _seed(engine) -> None:
    create_schema(engine)
    with Session(engine) as session, session.begin():
        session.add(Organization(id="org-1", name="Bench", slug="bench", type="INDIVIDUAL", plan="FREE"))
        session.flush()
        hashed = auth.hash_password(PASSWORD)
        session.add_all([User(org_id="org-1", email="ok@bench.example", name="Ok", role="ORG_ADMIN",
                              password_hash=hashed),
                         User(org_id="org-1", email="gone@bench.example", name="Gone", role="VIEWER",
                              password_hash=hashed, is_active=False)])


def run(label: str, engine, repeat: int, baseline_ms: float) -> None:
    clock = [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)]

    def later():  # an hour apart: no throttling delay between the measured attempts
        clock[0] += dt.timedelta(hours=2)
        return clock[0]

    cases = {
        "success": ("ok@bench.example", PASSWORD),
        "unknown email": ("nobody@bench.example", PASSWORD),
        "deactivated user": ("gone@bench.example", PASSWORD),
        "wrong password": ("ok@bench.example", "wrong password!"),
    }
    print(f"\n{label}")
    for name, (email, password) in cases.items():
        ms = _median_ms(lambda: auth.authenticate(engine, email, password, now=later()), repeat)
        print(f"  login, {name:<17} {ms:7.1f} ms   {ms / baseline_ms:5.2f}x one argon2 verify")
    user = auth.authenticate(engine, "ok@bench.example", PASSWORD).user
    token = auth.start_session(engine, user)
    ms = _median_ms(lambda: auth.resume_session(engine, token), repeat * 10)
    print(f"  session resume (each rerun)  {ms:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--pg-url", default=os.environ.get("AUDITORYX_TEST_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    hashed = auth.hash_password(PASSWORD)
    baseline = _median_ms(lambda: auth.verify_password(hashed, PASSWORD), args.repeat)
    print(f"baseline: one argon2 verify {baseline:.1f} ms")
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.sqlite")
        _seed(engine)
        run("SQLite", engine, args.repeat, baseline)
        engine.dispose()
    try:
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        name = f"auditoryx_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"\nPostgreSQL skipped: {exc.__class__.__name__}")
        return
    try:
        owner_url = admin.url.set(database=name)
        owner = make_engine(owner_url.render_as_string(hide_password=False))
        _seed(owner)
        app_url = owner_url.set(username="auditoryx_web_bench", password=None).render_as_string(hide_password=False)
        ensure_app_login(owner, app_url)
        owner.dispose()
        app = make_engine(app_url)
        run("PostgreSQL (as the RLS login)", app, args.repeat, baseline)
        app.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
