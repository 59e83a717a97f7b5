"""Pending tenants: marked before raw rows change, they limit the next build; success clears them."""
from __future__ import annotations

import datetime as dt

import duckdb

from warehouse.pending import (
    EVERY_TABLE, EVERY_TENANT, MAX_SCOPED_TENANTS, NO_TABLE, build_scope, clear_pending, mark_pending, narrow_marks,
    changed_scope, scope_of, scope_tables, tables_of,
)


def test_scope_of_marks():
    assert scope_of([]) is None                                   # nothing marked: look at everything
    assert scope_of(["b", "a", "b"]) == ["a", "b"]
    assert scope_of(["a", EVERY_TENANT]) is None
    assert scope_of([f"t{i}" for i in range(MAX_SCOPED_TENANTS + 1)]) is None
    assert scope_of(["a", "x'); drop table y; --"]) is None       # never reaches SQL


def test_tenants_with_nothing_changed_need_no_build():
    assert changed_scope([]) is None                                              # no marks: everything
    assert changed_scope([("a", NO_TABLE), ("b", "raw_bookings")]) == ["b"]      # only the changed one
    assert changed_scope([("a", NO_TABLE), ("a", EVERY_TABLE)]) == ["a"]
    nothing = [(f"t{i}", NO_TABLE) for i in range(MAX_SCOPED_TENANTS + 5)]
    assert changed_scope(nothing) == sorted(f"t{i}" for i in range(MAX_SCOPED_TENANTS + 5))  # any number
    assert changed_scope([(EVERY_TENANT, EVERY_TABLE), ("a", NO_TABLE)]) is None


def test_an_every_tenant_mark_is_narrowed_when_asked(tmp_path):
    db = tmp_path / "build.duckdb"
    conn = duckdb.connect(str(db))
    marked_at = mark_pending(conn, None)
    narrow_marks(conn, marked_at, {"t1": [], "t2": []})                            # not asked: '*' stands
    conn.close()
    assert build_scope(db) is None
    conn = duckdb.connect(str(db))
    narrow_marks(conn, marked_at, {"t1": [], "t2": ["raw_bookings"]}, every_tenant=True)
    conn.close()
    assert build_scope(db) == ["t2"] and scope_tables(db, ["t2"]) == ["raw_bookings"]


def test_marks_round_trip(tmp_path):
    db = tmp_path / "build.duckdb"
    assert build_scope(db) is None                                # no database yet
    conn = duckdb.connect(str(db))
    mark_pending(conn, ["t2", "t1"])
    mark_pending(conn, [])
    conn.close()
    assert build_scope(db) == ["t1", "t2"]

    started = dt.datetime.now(dt.timezone.utc)
    conn = duckdb.connect(str(db))
    mark_pending(conn, ["t3"])                                    # marked while the build ran: kept
    conn.execute("UPDATE main.dbt_pending_tenants SET marked_at = ? WHERE tenant_id <> 't3'",
                 [started - dt.timedelta(seconds=1)])
    conn.close()
    clear_pending(db, before=started)
    assert build_scope(db) == ["t3"]

    conn = duckdb.connect(str(db))
    mark_pending(conn, None)
    conn.close()
    assert build_scope(db) is None                                # every tenant


def test_tables_of_marks():
    assert tables_of([]) == []                                    # no mark names a table: nothing changed
    assert tables_of(["bookings", "audit_log", "bookings"]) == ["audit_log", "bookings"]
    assert tables_of(["bookings", NO_TABLE]) == ["bookings"]
    assert tables_of(["bookings", EVERY_TABLE]) is None            # any table


def test_marks_narrowed_to_the_tables_written(tmp_path):
    db = tmp_path / "build.duckdb"
    conn = duckdb.connect(str(db))
    marked_at = mark_pending(conn, ["t1", "t2", "t3"])
    other = mark_pending(conn, ["t3"])                            # someone else's mark: left alone
    narrow_marks(conn, marked_at, {"t1": {"bookings"}, "t2": set()})
    conn.close()
    assert build_scope(db) == ["t1", "t3"]                        # t2 was looked at: nothing changed
    assert scope_tables(db, ["t1"]) == ["bookings"]
    assert scope_tables(db, ["t2"]) == []                         # looked at, nothing changed
    assert scope_tables(db, ["t1", "t2"]) == ["bookings"]
    assert scope_tables(db, ["t1", "t3"]) is None                 # t3 may have changed anywhere
    assert other is not None and other >= marked_at


def test_marks_from_before_table_names_mean_every_table(tmp_path):
    db = tmp_path / "build.duckdb"
    conn = duckdb.connect(str(db))
    conn.execute("CREATE TABLE main.dbt_pending_tenants (tenant_id VARCHAR NOT NULL, marked_at TIMESTAMPTZ NOT NULL)")
    conn.execute("INSERT INTO main.dbt_pending_tenants VALUES ('t1', now())")
    conn.close()
    assert build_scope(db) == ["t1"] and scope_tables(db, ["t1"]) is None
    conn = duckdb.connect(str(db))
    marked_at = mark_pending(conn, ["t2"])                        # adds the column; old marks stay every-table
    narrow_marks(conn, marked_at, {"t2": {"artists"}})
    conn.close()
    assert scope_tables(db, ["t1"]) is None and scope_tables(db, ["t2"]) == ["artists"]


def test_full_disk_while_narrowing_marks_is_the_error_raised(tmp_path):
    """DuckDB aborts the transaction on a write failure: the ROLLBACK that follows fails with
    'no transaction is active', which must not replace 'No space left on device'."""
    import errno

    import pytest

    conn = duckdb.connect(str(tmp_path / "build.duckdb"))
    marked_at = mark_pending(conn, ["t1"])

    class FullDisk:
        def execute(self, sql, *args):
            if sql.startswith("INSERT"):  # writing the narrowed marks
                conn.execute("ROLLBACK")  # what DuckDB does itself when a write fails
                raise OSError(errno.ENOSPC, "No space left on device")
            return conn.execute(sql, *args)

    with pytest.raises(OSError, match="No space left on device"):
        narrow_marks(FullDisk(), marked_at, {"t1": ["bookings"]})
    # nothing was narrowed: the broad mark stands
    assert conn.execute("SELECT tenant_id, table_name FROM main.dbt_pending_tenants").fetchall() == [("t1", EVERY_TABLE)]
