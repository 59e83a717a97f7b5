"""Rows of tenants read whole are appended in whole DuckDB row groups, whatever the pieces' sizes."""
from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from ingestion.extract import ROW_GROUP_ROWS, AlignedAppends, aligned_split
from ingestion.raw_schema import RAW_TABLES
from warehouse.build_db import connect_build, ensure_raw_tables


def test_aligned_split_inserts_whole_row_groups_only():
    assert aligned_split(0, 1000, row_group_rows=100) == 1000
    assert aligned_split(0, 250, row_group_rows=100) == 200
    assert aligned_split(50, 250, row_group_rows=100) == 300
    assert aligned_split(30, 40, row_group_rows=100) == 0


def _users(start: int, count: int, *, email_type: pa.DataType = pa.string()) -> pa.Table:
    """Rows of raw_users as the SQLite reader hands them over (text columns, integers as int64)."""
    ids = [f"u-{i:07d}" for i in range(start, start + count)]
    columns = {column: pa.array(ids if column == "id" else [f"tenant-{i % 3}" for i in range(start, start + count)]
                                if column == "org_id" else [None] * count, pa.string())
               for column in RAW_TABLES["users"]}
    columns["email"] = pa.array([None] * count, email_type)
    columns["is_active"] = pa.array(["1"] * count, pa.string())
    columns["created_at"] = columns["updated_at"] = pa.array(["2026-01-02 03:04:05"] * count, pa.string())
    return pa.table(columns)


def _row_groups(conn: duckdb.DuckDBPyConnection, table: str) -> list[int]:
    return [n for _, n in conn.execute(
        "SELECT row_group_id, max(count) FROM pragma_storage_info(?) WHERE column_id = 0 GROUP BY 1 ORDER BY 1",
        [table]).fetchall()]


@pytest.mark.parametrize("sizes", [[250_000, 100_000, 7], [ROW_GROUP_ROWS, 5, ROW_GROUP_ROWS * 2 - 5]])
def test_pieces_land_in_whole_row_groups_and_nothing_is_lost(tmp_path, sizes):
    conn = connect_build(tmp_path / "build.duckdb")
    ensure_raw_tables(conn)
    conn.execute("BEGIN")
    appends = AlignedAppends(conn)
    start = 0
    for size in sizes:
        appends.add("users", _users(start, size))
        start += size
        assert conn.execute("SELECT count(*) FROM raw_users").fetchone()[0] % ROW_GROUP_ROWS == 0
    appends.flush()
    conn.execute("COMMIT")
    conn.execute("CHECKPOINT")
    total = sum(sizes)
    assert conn.execute("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM raw_users").fetchone() == (
        total, total, "u-0000000", f"u-{total - 1:07d}")
    groups = _row_groups(conn, "raw_users")
    assert all(n == ROW_GROUP_ROWS for n in groups[:-1]) and sum(groups) == total
    # a raw table's own key is stored uncompressed (ingestion/raw_schema.py UNCOMPRESSED_KEY_COLUMN);
    # the tenant column, three values, is compressed as DuckDB chooses
    compression = dict(conn.execute(
        "SELECT column_name, string_agg(DISTINCT compression) FROM pragma_storage_info('raw_users') "
        "WHERE segment_type = 'VARCHAR' AND column_name IN ('id', 'org_id') GROUP BY 1").fetchall())
    assert compression["id"] == "Uncompressed" and compression["org_id"] != "Uncompressed"
    conn.close()


def test_a_piece_typed_otherwise_flushes_what_waits_first(tmp_path):
    """A column NULL in every row of a read comes typed differently (the SQLite reader infers int64):
    the rows waiting are inserted as they are, then the new piece waits in turn."""
    conn = connect_build(tmp_path / "build.duckdb")
    ensure_raw_tables(conn)
    appends = AlignedAppends(conn)
    appends.add("users", _users(0, 1000))
    assert conn.execute("SELECT count(*) FROM raw_users").fetchone()[0] == 0  # less than a row group: waits
    appends.add("users", _users(1000, 10, email_type=pa.int64()))
    assert conn.execute("SELECT count(*) FROM raw_users").fetchone()[0] == 1000
    appends.flush("users")
    appends.flush("users")  # nothing left: a second flush inserts nothing
    assert conn.execute("SELECT count(*), count(DISTINCT id), count(email) FROM raw_users").fetchone() == (1010, 1010, 0)
    conn.close()
