"""Alembic owns the schema: the migrated database is exactly the models' schema on both backends,
``create_schema`` is idempotent, safe to run concurrently, and adopts databases made by create_all."""
from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational.db import (INITIAL_REVISION, alembic_config, create_schema, current_revision, head_revision,
                            make_engine, migration_connection)
from operational.models import Base, Organization



def _diffs(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, Base.metadata)


def _structure(conn, schema: str | None = None) -> dict:
    """Everything reflection sees of each table, in a backend-neutral, comparable form."""
    insp = inspect(conn)
    tables = sorted(set(insp.get_table_names(schema=schema)) - {"alembic_version"})
    return {table: {
        "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table, schema)],
        "primary_key": insp.get_pk_constraint(table, schema)["constrained_columns"],
        "foreign_keys": sorted((tuple(fk["constrained_columns"]), fk["referred_table"],
                                tuple(fk["referred_columns"]), fk["options"].get("ondelete"))
                               for fk in insp.get_foreign_keys(table, schema)),
        "unique": sorted((u["name"] or "", tuple(u["column_names"]))
                         for u in insp.get_unique_constraints(table, schema)),
        "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                          for i in insp.get_indexes(table, schema)),
        "checks": sorted((c["name"] or "", " ".join(c["sqltext"].split()))
                         for c in insp.get_check_constraints(table, schema)),
    } for table in tables}


def test_migrated_schema_equals_models(migrated):
    assert current_revision(migrated) == head_revision()
    assert _diffs(migrated) == []


def test_migrated_schema_equals_create_all_including_checks(migrated, tmp_path):
    """compare_metadata ignores CHECK constraints: compare every reflected detail with create_all's."""
    if migrated.dialect.name == "sqlite":
        reference = make_engine(f"sqlite:///{tmp_path / 'reference.sqlite'}")
        Base.metadata.create_all(reference)
        with migrated.connect() as conn, reference.connect() as ref:
            got, expected = _structure(conn), _structure(ref)
        reference.dispose()
    else:
        with migrated.begin() as conn:
            conn.execute(text("CREATE SCHEMA reference"))
            Base.metadata.create_all(conn.execution_options(schema_translate_map={None: "reference"}))
        with migrated.connect() as conn:
            got, expected = _structure(conn), _structure(conn, "reference")
    assert set(got) == {table.name for table in Base.metadata.sorted_tables}
    assert got == expected
    assert {"ck_bookings_currency_iso", "ck_booking_end_after_start", "booking_status", "payment_status"} <= \
        {name for name, _sql in got["bookings"]["checks"]}  # the comparison covered real constraints


def test_create_schema_is_idempotent_and_downgrade_round_trips(migrated):
    create_schema(migrated)
    assert current_revision(migrated) == head_revision()
    with migration_connection(migrated) as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(migrated).get_table_names()) == {"alembic_version"}
    create_schema(migrated)
    assert current_revision(migrated) == head_revision() and _diffs(migrated) == []


def test_database_made_by_create_all_is_stamped_then_upgraded(db_url):
    engine = make_engine(db_url)
    with migration_connection(engine) as conn:  # the initial tables, as create_all made them then
        command.upgrade(alembic_config(conn), INITIAL_REVISION)
        conn.execute(text("DROP TABLE alembic_version"))
    with Session(engine) as session, session.begin():
        session.add(Organization(id="org-1", name="Old", slug="old-org", type="INDIVIDUAL", plan="FREE",
                                 branding={}, settings={}, is_active=True))
    create_schema(engine)
    assert current_revision(engine) == head_revision()
    with Session(engine) as session:
        assert session.get(Organization, "org-1").slug == "old-org"  # data kept
    if engine.dialect.name == "postgresql":  # later revisions ran: RLS is on
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT relforcerowsecurity FROM pg_class WHERE relname = 'bookings'"))
    engine.dispose()


def test_partial_database_without_history_is_refused(db_url):
    engine = make_engine(db_url)
    Base.metadata.create_all(engine, tables=[Base.metadata.tables["organizations"]])
    with pytest.raises(AuditoryxError, match="no migration history and lacks artists"):
        create_schema(engine)
    engine.dispose()


def test_concurrent_create_schema_runs_once(db_url):
    engines = [make_engine(db_url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(engine):
        try:
            create_schema(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(engines[0]) == head_revision() and _diffs(engines[0]) == []
    for engine in engines:
        engine.dispose()


def test_database_from_a_newer_release_is_refused_clearly(migrated):
    with migrated.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(AuditoryxError, match="cannot migrate the operational database: .*9999"):
        create_schema(migrated)
