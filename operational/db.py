"""Engines, sessions and schema migrations for the operational database (SQLite file or PostgreSQL).

The schema is owned by Alembic (``operational/migrations``); :func:`create_schema` upgrades a
database to the latest revision. Alembic is configured here, in code, so it works from any cwd.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from auditoryx.errors import AuditoryxError

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
INITIAL_REVISION = "0001"
INITIAL_TABLES = frozenset({"organizations", "users", "artists", "projects", "project_users",
                            "project_milestones", "bookings", "audit_log"})
"""The tables of the initial revision: a database holding all of them without Alembic's version
table was made by ``create_all`` before migrations existed, and is stamped instead of upgraded."""
_LOCKED_RETRIES = 4
_PG_MIGRATION_LOCK = 7_406_120_001  # pg_advisory_xact_lock key: one migrator per database
_ROLE_RACE_RETRIES = 3  # ensure_app_login: attempts after losing a race for a cluster-wide role
_ROLE_RACE_SQLSTATES = frozenset({"23505", "42710"})  # unique_violation, duplicate_object


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for ``url``. ``read_only`` (SQLite): the file is opened ``mode=ro`` and nothing is
    written on connect (no ``journal_mode=WAL``, no folder created), so a read-only folder works."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and read_only:
        return _read_only_sqlite_engine(parsed.database)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def _read_only_sqlite_engine(database: str | None) -> Engine:
    if not database or database == ":memory:":
        raise AuditoryxError("a read-only SQLite engine needs a database file")
    uri = Path(database).resolve().as_uri() + "?mode=ro"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=30,
                                                                       check_same_thread=False))
    event.listen(engine, "connect", _sqlite_read_only_pragmas)
    return engine


def _sqlite_read_only_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(connection: Connection | None = None):
    """Alembic configuration without an ini file; migrations run on ``connection`` if given
    (otherwise env.py opens ``sqlalchemy.url`` or the settings' operational URL)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that only one migrator at a time can hold.

    PostgreSQL: a transaction-scoped advisory lock (DDL is transactional).
    SQLite: ``BEGIN IMMEDIATE`` takes the write lock up front so that the whole upgrade is one
    transaction; foreign keys are off meanwhile (as SQLite requires for batch table rebuilds,
    which would otherwise cascade deletes) and checked before commit.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
                violations = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if violations:
                    raise AuditoryxError(f"migration left {len(violations)} foreign key violations")
                conn.commit()
            finally:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            return
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            yield conn


def create_schema(engine: Engine) -> None:
    """Upgrade the operational database to the latest migration (idempotent; a no-op at head).

    A database created by ``create_all`` before migrations existed (every initial table, no
    ``alembic_version``) is stamped at the initial revision, then upgraded. On PostgreSQL an
    upgrade ends with ``ANALYZE`` (a migration may add indexes to bulk-loaded tables, and the
    planner needs statistics to use them).
    """
    from alembic import command
    from alembic.util import CommandError

    for attempt in range(_LOCKED_RETRIES + 1):
        try:
            if current_revision(engine) == head_revision():
                return
            with migration_connection(engine) as conn:
                config = alembic_config(conn)
                if _created_without_alembic(conn):
                    command.stamp(config, INITIAL_REVISION)
                command.upgrade(config, "head")
            analyze(engine)
            return
        except CommandError as exc:  # e.g. a database migrated by a newer release
            raise AuditoryxError(f"cannot migrate the operational database: {exc}") from None
        except OperationalError as exc:
            # SQLite answers "database is locked" at once, without waiting, when migrators race
            # on a fresh file (its WAL set-up); the next attempt finds the schema up to date
            if "database is locked" not in str(exc) or attempt == _LOCKED_RETRIES:
                raise
            time.sleep(0.2 * (attempt + 1))


def analyze(engine: Engine) -> None:
    """PostgreSQL: refresh the planner's statistics of every table (after migrations and bulk
    loads; autovacuum would get there later). Tables the role does not own are skipped by the
    server with a warning. A no-op on SQLite."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _created_without_alembic(conn: Connection) -> bool:
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables or not tables & INITIAL_TABLES:
        return False
    missing = INITIAL_TABLES - tables
    if missing:
        raise AuditoryxError(
            "the operational database has some tables but no migration history and lacks "
            f"{', '.join(sorted(missing))}: restore it or start from an empty database"
        )
    return True


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def ensure_app_login(engine: Engine, app_url: str | None) -> str | None:
    """PostgreSQL: make the web tier's login (the user of ``app_url``) a member of the row-level
    security role ``auditoryx_app``, creating it as a LOGIN role if missing. Needs a role allowed
    to create roles (the migration's). Returns the login's name, or None when nothing applies
    (SQLite, no separate URL, or the URL's user is the owner itself).

    Roles are cluster-wide while advisory locks are per database, so two of these running at once
    for different databases of one cluster (parallel tests, tenants set up side by side) are not
    serialized: the loser of ``CREATE ROLE`` or of the membership ``GRANT`` gets a unique violation
    once the winner commits. It then starts over and finds the role (and membership) in place."""
    if not app_url or engine.dialect.name != "postgresql":
        return None
    login = make_url(app_url).username
    if not login or login == engine.url.username:
        return None
    attempt = 0
    while True:
        try:
            _ensure_app_login_once(engine, login, make_url(app_url).password)
            return login
        except DBAPIError as exc:
            if attempt >= _ROLE_RACE_RETRIES or not _lost_role_race(exc):
                raise
            attempt += 1
            time.sleep(0.05 * attempt)


def _lost_role_race(exc: DBAPIError) -> bool:
    """A concurrent transaction created the same role or membership first (or updated the same
    catalog row: PostgreSQL's "tuple concurrently updated")."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in _ROLE_RACE_SQLSTATES or "tuple concurrently updated" in str(exc.orig)


def _ensure_app_login_once(engine: Engine, login: str, password: str | None) -> None:
    from operational.rls import APP_ROLE

    with engine.begin() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": login})
        quoted = conn.scalar(text("SELECT quote_ident(:name)"), {"name": login})
        if not exists:
            if password:
                conn.execute(text(f"CREATE ROLE {quoted} LOGIN PASSWORD :password"), {"password": password})
            else:
                conn.execute(text(f"CREATE ROLE {quoted} LOGIN"))
        superuser, bypass = conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :name"),
                                         {"name": login}).one()
        if superuser or bypass:
            raise AuditoryxError(f"the web tier's login {login!r} bypasses row-level security: give "
                                 "AUDITORYX_APP_DATABASE_URL a plain login role instead")
        conn.execute(text(f"GRANT {APP_ROLE} TO {quoted}"))
