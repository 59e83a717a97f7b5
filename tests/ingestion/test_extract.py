"""Extraction: SQLite and PostgreSQL give identical raw tables; re-running changes nothing."""
from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from ingestion.extract import extract_operational
from ingestion.operational_source import open_operational
from ingestion.raw_schema import RAW_TABLES, raw_table_name
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Booking, Organization
from warehouse.build_db import connect_build

AS_OF = dt.date(2026, 6, 30)


def _generated(url: str):
    engine = make_engine(url)
    create_schema(engine)
    tenants = generate(engine, tenants=3, seed=11, as_of=AS_OF, password="pw", scale=0.2)
    return engine, tenants


def _normalized(value):
    """JSON compares by meaning: PostgreSQL's JSONB orders keys its own way."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        return json.dumps(json.loads(value), sort_keys=True)
    return value


def _raw(conn) -> dict[str, list[tuple]]:
    return {
        t: [tuple(_normalized(v) for v in row)
            for row in conn.execute(f"SELECT * FROM {raw_table_name(t)} ORDER BY ALL").fetchall()]
        for t in RAW_TABLES
    }


def _extract(url: str, conn, tenant_ids=None, mode="incremental"):
    with open_operational(url) as reader:
        return extract_operational(reader, conn, tenant_ids, mode=mode)


def test_sqlite_and_postgres_extract_identically_and_idempotently(tmp_path, pg_url):
    sqlite_url = f"sqlite:///{tmp_path / 'op.sqlite'}"
    _generated(sqlite_url)
    _generated(pg_url)
    from_sqlite = connect_build(tmp_path / "a.duckdb")
    from_pg = connect_build(tmp_path / "b.duckdb")
    result = _extract(sqlite_url, from_sqlite)
    _extract(pg_url, from_pg)
    first = _raw(from_sqlite)
    assert result.rows["bookings"] == len(first["bookings"]) > 500
    assert first == _raw(from_pg)
    _extract(sqlite_url, from_sqlite)
    _extract(sqlite_url, from_sqlite)
    assert _raw(from_sqlite) == first


def test_one_tenant_refresh_touches_only_that_tenant(tmp_path):
    url = f"sqlite:///{tmp_path / 'op.sqlite'}"
    engine, tenants = _generated(url)
    conn = connect_build(tmp_path / "w.duckdb")
    _extract(url, conn)
    before = conn.execute("SELECT org_id, sum(final_price) FROM raw_bookings GROUP BY 1 ORDER BY 1").fetchall()
    with Session(engine) as session, session.begin():
        session.execute(update(Booking).values(final_price=None))  # every tenant changes in the source
    _extract(url, conn, [tenants[0].id])
    after = dict(conn.execute("SELECT org_id, sum(final_price) FROM raw_bookings GROUP BY 1").fetchall())
    assert after[tenants[0].id] is None
    assert all(after[tenant] == total for tenant, total in before if tenant != tenants[0].id)


@pytest.mark.parametrize("pieces_before_failure", [0, 1])
def test_failed_extraction_leaves_raw_tables_unchanged(tmp_path, pieces_before_failure):
    url = f"sqlite:///{tmp_path / 'op.sqlite'}"
    _generated(url)
    conn = connect_build(tmp_path / "w.duckdb")
    _extract(url, conn)
    before = _raw(conn)
    with open_operational(url) as reader:
        original = reader.stream_tenants

        def failing(table, tenant_ids, since=None, **options):
            if table == "bookings":  # fails at once, or after a piece was written
                yield from itertools.islice(original(table, tenant_ids, since, **options), pieces_before_failure)
                raise RuntimeError("source went away")
            yield from original(table, tenant_ids, since, **options)

        reader.stream_tenants = failing
        with pytest.raises(RuntimeError, match="source went away"):  # full: rows deleted first, then the read fails
            extract_operational(reader, conn, mode="full")
    assert _raw(conn) == before


def test_incremental_picks_up_changes_and_deletes_full_mode_reconciles_the_rest(tmp_path):
    url = f"sqlite:///{tmp_path / 'op.sqlite'}"
    engine, tenants = _generated(url)
    conn = connect_build(tmp_path / "w.duckdb")
    _extract(url, conn)
    booking_id, deleted_id, unrecorded_id = [
        r[0] for r in conn.execute("SELECT id FROM raw_bookings ORDER BY id LIMIT 3").fetchall()]
    with Session(engine) as session, session.begin():
        booking = session.get(Booking, booking_id)
        booking.notes = "changed after the first extraction"
        tenant_id = booking.org_id
        session.delete(session.get(Booking, deleted_id))
    again = _extract(url, conn)
    # only what changed is read: one booking; the delete was recorded (change_deletions)
    assert again.rows["bookings"] == 1 and again.deleted["bookings"] == 1
    assert sum(again.rows.values()) == 1
    assert again.changed_tables()[tenant_id] == {"bookings"}
    notes = conn.execute("SELECT notes FROM raw_bookings WHERE id = ?", [booking_id]).fetchone()[0]
    assert notes == "changed after the first extraction"
    assert conn.execute("SELECT count(*) FROM raw_bookings WHERE id = ?", [deleted_id]).fetchone()[0] == 0
    with engine.begin() as source:  # a delete no trigger recorded (like TRUNCATE): only full mode sees it
        source.execute(text("DELETE FROM bookings WHERE id = :id"), {"id": unrecorded_id})
        source.execute(text("DELETE FROM change_deletions WHERE row_id = :id"), {"id": unrecorded_id})
    assert _extract(url, conn).deleted["bookings"] == 0
    assert conn.execute("SELECT count(*) FROM raw_bookings WHERE id = ?", [unrecorded_id]).fetchone()[0] == 1
    _extract(url, conn, mode="full")  # key reconciliation
    assert conn.execute("SELECT count(*) FROM raw_bookings WHERE id = ?", [unrecorded_id]).fetchone()[0] == 0
    fresh = connect_build(tmp_path / "fresh.duckdb")
    _extract(url, fresh)
    assert _raw(conn) == _raw(fresh)


def test_deactivated_tenant_leaves_every_raw_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'op.sqlite'}"
    engine, tenants = _generated(url)
    conn = connect_build(tmp_path / "w.duckdb")
    _extract(url, conn)
    with Session(engine) as session, session.begin():
        session.execute(update(Organization).where(Organization.id == tenants[2].id).values(is_active=False))
    result = _extract(url, conn)
    assert result.removed_tenants == [tenants[2].id]
    for table in RAW_TABLES:
        column = "id" if table == "organizations" else "org_id"
        assert conn.execute(f"SELECT count(*) FROM {raw_table_name(table)} WHERE {column} = ?",
                            [tenants[2].id]).fetchone()[0] == 0


def test_small_reads_and_row_ranges_give_the_same_tables(tmp_path, pg_url, monkeypatch):
    """Many small reads (several row ranges and tenant groups per table, two connections) give
    exactly what one read per table gives, on both backends, full and incremental."""
    import ingestion.extract as extract

    sqlite_url = f"sqlite:///{tmp_path / 'op.sqlite'}"
    _generated(sqlite_url)
    _generated(pg_url)
    reference = connect_build(tmp_path / "reference.duckdb")
    _extract(sqlite_url, reference)
    expected = _raw(reference)
    monkeypatch.setattr(extract, "ROWS_PER_READ", 40)
    monkeypatch.setattr(extract, "FIRST_READ_TENANTS", 1)
    with open_operational(sqlite_url) as reader:
        ranges = reader.row_ranges(["bookings"], 40)["bookings"]
        assert len(ranges) > 10
        tenants = reader.tenant_ids()
        assert sum(reader.read_tenants("bookings", tenants, rows=r).num_rows for r in ranges) \
            == reader.read_tenants("bookings", tenants).num_rows
    for url, name in ((sqlite_url, "small_sqlite"), (pg_url, "small_pg")):
        conn = connect_build(tmp_path / f"{name}.duckdb")
        _extract(url, conn, [tenants[0]])  # one tenant first: the others are new on the next run
        _extract(url, conn)
        assert _raw(conn) == expected
        _extract(url, conn, mode="full")
        assert _raw(conn) == expected


def test_postgres_streams_a_read_in_bounded_pieces_of_one_snapshot(pg_url):
    """A tenant's whole read on PostgreSQL arrives in pieces of at most ``piece_rows`` rows that
    together are exactly the one statement's result, even when rows change while it streams."""
    engine, tenants = _generated(pg_url)
    ids = [t.id for t in tenants]
    with open_operational(pg_url) as reader:
        whole = reader.read_tenants("bookings", ids)
        assert whole.num_rows > 300
        pieces = reader.stream_tenants("bookings", ids, piece_rows=100)
        first = next(pieces)
        with engine.begin() as conn:  # committed mid-stream: not in this read (its change number is above the bound)
            conn.execute(update(Booking).where(Booking.org_id == ids[0]).values(notes="changed mid-stream"))
        rest = list(pieces)
    sizes = [piece.num_rows for piece in [first, *rest]]
    assert all(size == 100 for size in sizes[:-1]) and 0 < sizes[-1] <= 100
    streamed = sorted(row["id"] for piece in [first, *rest] for row in piece.select(["id"]).to_pylist())
    assert streamed == sorted(whole.column("id").to_pylist())
    assert "changed mid-stream" not in {row["notes"] for piece in rest for row in piece.select(["notes"]).to_pylist()}
    with open_operational(pg_url) as reader:  # a stream left early (an error while writing) spoils nothing
        abandoned = reader.stream_tenants("bookings", ids, piece_rows=100)
        next(abandoned)
        abandoned.close()
        again = reader.read_tenants("bookings", ids)
        with engine.connect() as conn:  # and leaves no transaction of the reader open on the server
            open_transactions = conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"))
    assert again.num_rows == whole.num_rows and open_transactions == 0
    engine.dispose()


def test_a_read_only_postgres_server_is_read_with_parameters(tmp_path, pg_url):
    """A standby (or default_transaction_read_only) refuses the temporary scope table: the reads
    fall back to parameterized statements and give the same raw tables."""
    engine, _tenants = _generated(pg_url)
    expected = connect_build(tmp_path / "expected.duckdb")
    _extract(pg_url, expected)
    database = engine.url.database
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on'))
    engine.dispose()
    read_only = connect_build(tmp_path / "read_only.duckdb")
    with open_operational(pg_url) as reader:
        extract_operational(reader, read_only)
        assert reader._scope_tables is False  # it tried, was refused, and fell back
    assert _raw(read_only) == _raw(expected)
