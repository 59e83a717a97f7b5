"""Lazy readers (a view created when a statement first names its table), blank databases made ahead
of need, and parsed statements kept per text: the same confinement, read-only and locked
configuration as eager readers, and the same rows."""
from __future__ import annotations

import time

import duckdb
import polars as pl
import pytest

from warehouse import reader
from warehouse.layout import META_TABLE, PUBLISHED_MARTS, PUBLISHED_QUALITY_TABLES
from warehouse.reader import ReadOnlyViolation, SnapshotDamaged, open_version_folder

TENANTS = ("t-one", "t-two")
VERSION = "v20261201T000000000000Z-abcdef"


def _write_version(root, tenant: str, *, quality: bool = True):
    folder = root / tenant / VERSION
    folder.mkdir(parents=True)
    for table in (*PUBLISHED_MARTS, META_TABLE, *(PUBLISHED_QUALITY_TABLES if quality else ())):
        frame = pl.DataFrame({"tenant_id": [tenant, tenant], "label": [f"{table} of {tenant}", "second"],
                              "rank": [2, 1]})
        frame.write_parquet(folder / f"{table}.parquet")
    return folder


@pytest.fixture
def folders(tmp_path):
    return {tenant: _write_version(tmp_path, tenant, quality=tenant == "t-one") for tenant in TENANTS}


@pytest.fixture(autouse=True)
def no_blank_databases_left():
    yield
    reader._POOL.stop()


def _open(folders, tenant, **options):
    return open_version_folder(tenant, VERSION, folders[tenant], optional_tables=PUBLISHED_QUALITY_TABLES,
                               **options)


def test_lazy_reader_answers_as_the_eager_one(folders):
    eager, lazy = _open(folders, "t-one"), _open(folders, "t-one", lazy_views=True)
    for table in (*PUBLISHED_MARTS, META_TABLE, *PUBLISHED_QUALITY_TABLES):
        assert lazy.query(f'SELECT * FROM "{table}"').equals(eager.query(f'SELECT * FROM "{table}"')), table
    # natural order applies to lazily created views too (top performers by rank)
    assert lazy.query("SELECT rank FROM top_performers")["rank"].to_list() == [1, 2]
    assert set(lazy.tables) == {*PUBLISHED_MARTS, META_TABLE, *PUBLISHED_QUALITY_TABLES}


def test_lazy_reader_creates_only_the_views_named(folders):
    lazy = _open(folders, "t-one", lazy_views=True)
    lazy.query("SELECT label FROM kpi_summary WHERE tenant_id = ?", ["t-one"])
    views = set(lazy.query("SELECT view_name FROM duckdb_views() WHERE NOT internal")["view_name"].to_list())
    assert "kpi_summary" in views and "fct_bookings_daily" not in views and "dim_artists" not in views


def test_optional_tables_only_when_the_version_holds_them(folders):
    without = _open(folders, "t-two", lazy_views=True)
    assert not set(PUBLISHED_QUALITY_TABLES) & set(without.tables)
    with pytest.raises(duckdb.CatalogException):
        without.query("SELECT * FROM quarantined_rows")


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("warm", [False, True])
def test_confined_read_only_and_locked_whatever_the_mode(folders, lazy, warm):
    if warm:  # a blank database made ahead of need by the background thread
        reader.keep_connections_warm(1)
        deadline = time.monotonic() + 10
        while reader._POOL.ready() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reader._POOL.ready() == 1
    snap = _open(folders, "t-one", lazy_views=lazy)
    assert snap.query("SELECT label FROM meta ORDER BY rank LIMIT 1").item() == "second"
    other = folders["t-two"] / "meta.parquet"
    with pytest.raises(duckdb.Error):  # another tenant's file, by path
        snap.query("SELECT * FROM read_parquet(?)", [str(other)])
    with pytest.raises(duckdb.Error):
        snap.query(f"SELECT * FROM read_parquet('{other}')")
    with pytest.raises(ReadOnlyViolation):
        snap.query("CREATE TABLE x AS SELECT 1")
    with pytest.raises(ReadOnlyViolation):
        snap.query("SET allowed_directories = ['/']")
    with pytest.raises(ReadOnlyViolation):
        snap.query("SELECT 1; SELECT 2")
    settings = snap._conn.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN "
        "('enable_external_access', 'lock_configuration', 'temp_directory')").fetchall()
    assert dict(settings) == {"enable_external_access": "false", "lock_configuration": "true", "temp_directory": ""}
    with pytest.raises(duckdb.Error):  # the configuration is locked on the connection itself
        snap._conn.execute("SET enable_external_access = true")


def test_a_missing_required_table_is_damage_even_for_lazy_readers(folders):
    (folders["t-one"] / "kpi_summary.parquet").unlink()
    with pytest.raises(SnapshotDamaged):
        _open(folders, "t-one", lazy_views=True)


def test_blank_databases_are_kept_ready_and_stopped(folders):
    reader.keep_connections_warm(2)
    deadline = time.monotonic() + 10
    while reader._POOL.ready() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reader._POOL.ready() == 2
    first = _open(folders, "t-one", lazy_views=True)
    second = _open(folders, "t-two", lazy_views=True)
    assert first._conn is not second._conn
    assert first.query("SELECT label FROM meta WHERE rank = 2").item() == "meta of t-one"
    assert second.query("SELECT label FROM meta WHERE rank = 2").item() == "meta of t-two"
    reader._POOL.stop()
    assert reader._POOL.ready() == 0


def test_a_parsed_statement_serves_every_reader_with_its_own_rows(folders):
    sql = "SELECT label FROM meta WHERE tenant_id = ? AND rank = 2"
    one, two = _open(folders, "t-one", lazy_views=True), _open(folders, "t-two", lazy_views=True)
    assert one.query(sql, ["t-one"]).item() == "meta of t-one"
    assert sql in reader._parsed
    assert two.query(sql, ["t-two"]).item() == "meta of t-two"
    assert two.query(sql, ["t-one"]).is_empty()  # bound values, another tenant's id finds nothing


def test_one_reader_serves_many_threads_at_once(folders):
    """Parsing, creating views and making cursors share the reader's own connection, which DuckDB
    lets serve one call at a time: concurrent first queries must not collide."""
    import threading

    tables = (*PUBLISHED_MARTS, META_TABLE)
    for round_ in range(3):
        snap = _open(folders, "t-one", lazy_views=True)
        errors, start = [], threading.Barrier(len(tables))

        def read(table, snap=snap, start=start, round_=round_):
            try:
                start.wait()
                # a statement text of its own per thread and round: each is parsed for the first time
                frame = snap.query(f'SELECT label, {round_} AS round FROM "{table}" WHERE tenant_id = ? AND rank = 2',
                                   ["t-one"])
                assert frame["label"].to_list() == [f"{table} of t-one"]
            except Exception as error:  # noqa: BLE001 - collected for the assertion below
                errors.append(error)

        threads = [threading.Thread(target=read, args=(table,)) for table in tables]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
