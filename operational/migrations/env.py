"""Alembic environment of the operational database.

Normally run by :func:`operational.db.create_schema`, which hands over a locked connection in an
open transaction. Run by the ``alembic`` command (``alembic -c alembic.ini …``), it opens
``sqlalchemy.url`` if set, else the settings' operational URL, under the same lock.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from operational.models import Base

config = context.config


def _configure(**options) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite rebuilds tables for ALTERs; a no-op elsewhere
        **options,
    )


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from auditoryx.settings import get_settings

    return get_settings().operational_database_url


if context.is_offline_mode():
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    _run(config.attributes["connection"])
else:
    from operational.db import make_engine, migration_connection

    engine = make_engine(_url())
    try:
        with migration_connection(engine) as connection:
            _run(connection)
    finally:
        engine.dispose()
