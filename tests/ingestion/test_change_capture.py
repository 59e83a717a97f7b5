"""Change capture by change numbers (issue #18, migration 0006): no committed row is skipped,
whatever its ``updated_at`` or the order transactions commit in; deletes are found incrementally;
incremental extraction equals a full one; the incremental read goes through the
``(org_id, change_number)`` index on PostgreSQL, with statistics from ``ANALYZE``."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update

from ingestion.extract import extract_operational
from ingestion.operational_source import OperationalReader, open_operational
from ingestion.raw_schema import RAW_TABLES, raw_table_name
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking
from warehouse.build_db import connect_build

AS_OF = dt.date(2026, 6, 30)
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
BOOKINGS = Booking.__table__


def _normalized(value):
    if isinstance(value, str) and value[:1] in ("{", "["):
        return json.dumps(json.loads(value), sort_keys=True)
    return value


def _raw(conn) -> dict[str, list[tuple]]:
    return {t: [tuple(_normalized(v) for v in row)
                for row in conn.execute(f"SELECT * FROM {raw_table_name(t)} ORDER BY ALL").fetchall()]
            for t in RAW_TABLES}


def _extract(url: str, conn, tenant_ids=None, mode="incremental", connections: int = 2):
    with OperationalReader(url, connections) as reader:
        return extract_operational(reader, conn, tenant_ids, mode=mode)


def _booking(tenant_id: str, artist_id: str, booking_id: str | None = None, stamp=LONG_AGO, title="Late") -> dict:
    end = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
    return {"id": booking_id or str(uuid.uuid4()), "org_id": tenant_id, "artist_id": artist_id, "title": title,
            "type": "MIXING", "status": "COMPLETED", "priority": "MEDIUM", "start_date": end - dt.timedelta(hours=2),
            "end_date": end, "duration_minutes": 120, "timezone": "UTC", "is_remote": False, "currency": "USD",
            "payment_status": "PAID", "requirements": {}, "deliverables": [], "created_at": stamp, "updated_at": stamp}


def _change_number(engine, booking_id: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(BOOKINGS.c.change_number).where(BOOKINGS.c.id == booking_id))


@pytest.mark.postgres
def test_interleaved_transactions_commit_out_of_number_order_and_nothing_is_skipped(tmp_path, pg_url):
    """Transaction A takes its change number first and commits last. An extraction between the two
    commits sees B (the higher number) only; the next one still reads A."""
    engine = make_engine(pg_url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=3, as_of=AS_OF, password="pw", scale=0.05)
    tenant = tenants[0].id
    with engine.connect() as conn:
        artist = conn.scalar(select(Artist.id).where(Artist.org_id == tenant).limit(1))
    build = connect_build(tmp_path / "w.duckdb")
    _extract(pg_url, build)
    first, second = _booking(tenant, artist, title="A"), _booking(tenant, artist, title="B")
    slow = engine.connect()
    try:
        slow_transaction = slow.begin()
        slow.execute(insert(Booking), [first])  # numbered now (its transaction id), committed later
        with engine.begin() as fast:
            fast.execute(insert(Booking), [second])
        between = _extract(pg_url, build)
        present = {row[0] for row in build.execute("SELECT id FROM raw_bookings WHERE title IN ('A', 'B')").fetchall()}
        assert present == {second["id"]} and between.changed_tables()[tenant] == {"bookings"}
        slow_transaction.commit()
    finally:
        slow.close()
    assert _change_number(engine, first["id"]) < _change_number(engine, second["id"])  # commit order ≠ number order
    after = _extract(pg_url, build)
    assert build.execute("SELECT count(*) FROM raw_bookings WHERE id = ?", [first["id"]]).fetchone()[0] == 1
    assert after.changed_tables()[tenant] == {"bookings"}
    fresh = connect_build(tmp_path / "fresh.duckdb")
    _extract(pg_url, fresh)
    assert _raw(build) == _raw(fresh)
    engine.dispose()


@pytest.mark.postgres
def test_incremental_read_uses_the_change_number_index_after_analyze(pg_url):
    engine = make_engine(pg_url)
    create_schema(engine)
    tenants = generate(engine, tenants=3, seed=2, as_of=AS_OF, password="pw")  # 4,800 bookings
    with engine.connect() as conn:  # the generator analyzed what it loaded
        assert conn.scalar(text("SELECT count(*) FROM pg_stats WHERE tablename = 'bookings'")) > 0
        assert conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'bookings'")) == 4800
    with open_operational(pg_url) as reader:
        bound = reader.change_bound()
        sql = reader.scope_query("bookings", with_since=True)
        scope_ddl, scope_table = reader.SCOPE_TABLE_DDL, reader.SCOPE_TABLE
    with engine.begin() as conn:  # the scope table as a read loads it: the tenants, their watermarks, analyzed
        conn.execute(text(scope_ddl))
        conn.execute(text(f"INSERT INTO {scope_table} VALUES (:tenant, :since)"),
                     [{"tenant": t.id, "since": bound} for t in tenants])
        conn.execute(text(f"ANALYZE {scope_table}"))
        plan = "\n".join(conn.scalars(text(f"EXPLAIN {sql}")).all())
        whole_plan = "\n".join(conn.scalars(text(f"EXPLAIN {reader.scope_query('bookings', with_since=False)}")).all())
    # either change-number index reads only the rows numbered since (0007's suits all tenants at once)
    assert "ix_bookings_org_change" in plan or "ix_bookings_change_number" in plan, plan
    assert "Seq Scan on bookings" not in plan and "Seq Scan on bookings" not in whole_plan, (plan, whole_plan)
    # a full extraction (the nightly key reconciliation) refreshes the statistics too
    with engine.begin() as conn:
        artist = conn.scalar(select(Artist.id).where(Artist.org_id == tenants[0].id).limit(1))
        conn.execute(insert(Booking), [_booking(tenants[0].id, artist) for _ in range(600)])
    with open_operational(pg_url) as reader:
        extract_operational(reader, connect_build(":memory:"), [tenants[0].id], mode="full")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'bookings'")) == 5400
    engine.dispose()


def test_build_database_with_timestamp_watermarks_is_read_whole_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'op.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=8, as_of=AS_OF, password="pw", scale=0.05)
    build = connect_build(tmp_path / "w.duckdb")
    build.execute("""CREATE TABLE ingestion_watermarks (tenant_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL,
                     watermark TIMESTAMPTZ, extracted_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (tenant_id, table_name))""")
    _extract(url, build)
    # as an older release left it: timestamp watermarks only
    build.execute("UPDATE ingestion_watermarks SET change_number = NULL, watermark = now()")
    with engine.begin() as conn:
        artist = conn.scalar(select(Artist.id).where(Artist.org_id == tenants[1].id).limit(1))
        conn.execute(insert(Booking), [_booking(tenants[1].id, artist)])  # older than any timestamp watermark
    once = _extract(url, build)
    assert once.whole_tenants == {t.id for t in tenants}
    then = _extract(url, build)
    assert not then.whole_tenants and sum(then.rows.values()) == 0 and then.changed_tables() == {
        t.id: set() for t in tenants}
    fresh = connect_build(tmp_path / "fresh.duckdb")
    _extract(url, fresh)
    assert _raw(build) == _raw(fresh)
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_nothing_changed_reads_and_writes_nothing_and_the_next_change_is_still_read(tmp_path, request, backend):
    """No row numbered at or above the oldest watermark: the extraction returns before reading
    (no deletion scan, no tenant read) and writes nothing, watermarks included. A write or a delete
    afterwards is read as before, whatever its ``updated_at``."""
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'op.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=8, as_of=AS_OF, password="pw", scale=0.05)
    build = connect_build(tmp_path / "w.duckdb")
    _extract(url, build)
    if backend == "sqlite":
        stamps = build.execute("SELECT * FROM ingestion_watermarks ORDER BY ALL").fetchall()
        with OperationalReader(url, 2) as reader:
            reads = []
            reader.read_tenants = lambda *args, **kwargs: reads.append(args)  # any read would be recorded
            reader.stream_tenants = lambda *args, **kwargs: reads.append(args)
            reader.read_deletions = lambda *args, **kwargs: reads.append(args)
            quiet = extract_operational(reader, build)
        assert reads == [] and build.execute("SELECT * FROM ingestion_watermarks ORDER BY ALL").fetchall() == stamps
        assert sum(quiet.rows.values()) == 0
    else:  # the bound is the server's oldest running transaction (any database's): a busy server keeps
        quiet = _extract(url, build)  # it below the rows read last time, which are read again and compared
    assert not quiet.removed_tenants and quiet.changed_tables() == {t.id: set() for t in tenants}
    with engine.begin() as conn:
        artist = conn.scalar(select(Artist.id).where(Artist.org_id == tenants[1].id).limit(1))
        conn.execute(insert(Booking), [_booking(tenants[1].id, artist, booking_id="late-one")])
    assert _extract(url, build).changed_tables()[tenants[1].id] == {"bookings"}
    with engine.begin() as conn:
        conn.execute(delete(Booking).where(Booking.id == "late-one"))
    gone = _extract(url, build)
    assert gone.deleted["bookings"] == 1 and tenants[1].id in gone.tables_written
    fresh = connect_build(tmp_path / "fresh.duckdb")
    _extract(url, fresh)
    assert _raw(build) == _raw(fresh)
    engine.dispose()


# --- property: incremental extraction equals a full one --------------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A small generated SQLite database and a build database extracted from it (copied per example)."""
    folder = tmp_path_factory.mktemp("change-capture")
    url = f"sqlite:///{folder / 'op.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    generate(engine, tenants=2, seed=21, as_of=AS_OF, password="pw", scale=0.03)
    engine.dispose()
    build = connect_build(folder / "build.duckdb")
    _extract(url, build)
    build.close()
    return folder


def _copy_sqlite(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("edit"), st.integers(0, 10_000)),
    st.tuples(st.just("backdate"), st.integers(0, 10_000)),  # a writer whose clock is years behind
    st.tuples(st.just("move"), st.integers(0, 10_000), st.sampled_from([-62, -31, 29, 31, 45])),  # to another month
    st.tuples(st.just("delete"), st.integers(0, 10_000)),
    st.tuples(st.just("again"), st.integers(0, 10_000)),  # deleted, then written again with the same id
    st.tuples(st.just("late"), st.integers(0, 1)),  # a new row stamped long ago
    st.tuples(st.just("extract"), st.sampled_from(["all", "one"])),
), min_size=1, max_size=8)


def _apply(conn, operation, tenant_ids: list[str]) -> None:
    kind, *args = operation
    ids = conn.execute(select(BOOKINGS.c.id).order_by(BOOKINGS.c.id)).scalars().all()
    target = ids[args[0] % len(ids)] if ids and kind not in ("late", "extract") else None
    row = conn.execute(select(BOOKINGS).where(BOOKINGS.c.id == target)).mappings().one() if target else None
    if kind == "edit" and row:
        conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == target).values(notes=f"edited {uuid.uuid4().hex[:6]}"))
    elif kind == "backdate" and row:
        conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == target).values(title="Backdated", updated_at=LONG_AGO))
    elif kind == "move" and row:
        shift = dt.timedelta(days=args[1])
        conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == target).values(
            start_date=row["start_date"] + shift, end_date=row["end_date"] + shift))
    elif kind == "delete" and row:
        conn.execute(delete(BOOKINGS).where(BOOKINGS.c.id == target))
    elif kind == "again" and row:
        conn.execute(delete(BOOKINGS).where(BOOKINGS.c.id == target))
        conn.execute(insert(BOOKINGS), [{**{k: v for k, v in row.items() if k != "change_number"},
                                         "title": "Written again", "updated_at": LONG_AGO}])
    elif kind == "late":
        tenant = tenant_ids[args[0]]
        artist = conn.execute(select(Artist.id).where(Artist.org_id == tenant).limit(1)).scalar()
        conn.execute(insert(Booking), [_booking(tenant, artist)])


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_incremental_extraction_equals_a_full_one(template, operations):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        _copy_sqlite(template / "op.sqlite", folder / "op.sqlite")
        shutil.copy(template / "build.duckdb", folder / "build.duckdb")
        url = f"sqlite:///{folder / 'op.sqlite'}"
        engine = make_engine(url)
        with engine.connect() as conn:
            tenant_ids = sorted(conn.execute(text("SELECT id FROM organizations")).scalars())
        build = connect_build(folder / "build.duckdb")
        try:
            for operation in operations:
                if operation[0] == "extract":
                    _extract(url, build, None if operation[1] == "all" else tenant_ids[:1], connections=1)
                    continue
                with engine.begin() as conn:
                    _apply(conn, operation, tenant_ids)
            _extract(url, build, connections=1)
            fresh = connect_build(folder / "fresh.duckdb")
            _extract(url, fresh, mode="full", connections=1)
            assert _raw(build) == _raw(fresh)
            fresh.close()
        finally:
            build.close()
            engine.dispose()


def _full_extraction_past_deletion(url: str, build, engine, row_id: str, attempts: int = 50):
    """A full extraction whose bound lies above the deletion record of ``row_id``. On PostgreSQL the
    bound is the cluster's oldest running transaction (``pg_snapshot_xmin``), so a transaction open
    in another database of the same server (another test worker) holds it below our delete for a
    moment: conservative, never wrong. Extract again until the bound has passed it."""
    with engine.connect() as conn:
        number = conn.scalar(text("SELECT change_number FROM change_deletions WHERE row_id = :id"), {"id": row_id})
    for _ in range(attempts):
        result = _extract(url, build, mode="full")
        if result.bound > number:
            return result
        time.sleep(0.2)
    raise AssertionError(f"the change bound stayed at or below {number} for {attempts} full extractions")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_pruned_deletions_are_never_missed(tmp_path, request, backend):
    """A full extraction of every tenant prunes the deletion records below its bound (the nightly
    reconciliation, through the pipeline); a second warehouse whose watermark is older than that
    horizon reads the tenant × table whole and still loses the deleted row."""
    from auditoryx.pipeline import prune_deletions_below
    from operational.change_pruning import deletions_horizon

    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'op.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=9, as_of=AS_OF, password="pw", scale=0.05)
    tenant = tenants[0].id
    lagging, reconciling = connect_build(tmp_path / "lagging.duckdb"), connect_build(tmp_path / "nightly.duckdb")
    _extract(url, lagging)
    _extract(url, reconciling)
    with engine.begin() as conn:
        artist = conn.scalar(select(Artist.id).where(Artist.org_id == tenant).limit(1))
        conn.execute(insert(Booking), [_booking(tenant, artist, booking_id="to-delete")])
    _extract(url, lagging)
    assert lagging.execute("SELECT count(*) FROM raw_bookings WHERE id = 'to-delete'").fetchone()[0] == 1
    with engine.begin() as conn:
        conn.execute(delete(Booking).where(Booking.id == "to-delete"))
        assert conn.scalar(text("SELECT count(*) FROM change_deletions WHERE row_id = 'to-delete'")) == 1
    nightly = _full_extraction_past_deletion(url, reconciling, engine, "to-delete")
    assert prune_deletions_below(url, nightly.bound) >= 1
    assert deletions_horizon(engine) == nightly.bound
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM change_deletions WHERE row_id = 'to-delete'")) == 0
    assert prune_deletions_below(url, nightly.bound - 1) == 0 and deletions_horizon(engine) == nightly.bound  # never lowered
    behind = _extract(url, lagging)  # its watermarks lie below the horizon: read whole, keys reconciled
    assert tenant in behind.whole_tenants
    assert lagging.execute("SELECT count(*) FROM raw_bookings WHERE id = 'to-delete'").fetchone()[0] == 0
    assert _raw(lagging) == _raw(reconciling)
    then = _extract(url, lagging)  # and from then on incremental again
    assert not then.whole_tenants and sum(then.rows.values()) == 0
    engine.dispose()
