"""Pending tenants: marked before raw rows change, they limit the next build; success clears them."""
from __future__ import annotations

import datetime as dt

import duckdb

from warehouse.pending import EVERY_TENANT, MAX_SCOPED_TENANTS, build_scope, clear_pending, mark_pending, scope_of


def test_scope_of_marks():
    assert scope_of([]) is None                                   # nothing marked: look at everything
    assert scope_of(["b", "a", "b"]) == ["a", "b"]
    assert scope_of(["a", EVERY_TENANT]) is None
    assert scope_of([f"t{i}" for i in range(MAX_SCOPED_TENANTS + 1)]) is None
    assert scope_of(["a", "x'); drop table y; --"]) is None       # never reaches SQL


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
