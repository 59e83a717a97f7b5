"""Incremental builds equal full-refresh builds of the same raw data, mart by mart, row by row.

Incremental models: int_bookings_enriched (tenant × service-month partitions of the changed
bookings) and the all-time marts (the tenants listed by int_tenant_changes); the as-of marts are
tables rebuilt on every run.

A full build of the hand-written data (test_dbt_marts.raw_rows) as of D1, then rounds of raw
changes, each followed by an incremental `build_all` and compared with a full-refresh build of a
copy of the same raw tables:
1. as of D2 (the as-of marts must follow D): a status change, a price change without an
   updated_at bump, a booking moved to another month (its old partition keeps other rows), a
   booking moved out of a partition it was alone in, deletions (alone in its partition, and
   not), an untouched month of a changed tenant, new bookings in an existing and a new month, a new tenant, a tenant whose base
   currency changes (all its rows convert again);
2. a tenant removed whole, a booking moved across months and time zones, the base currency
   changed back;
3. nothing changed: the incremental run writes no row.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingestion.raw_schema import RAW_TABLES, TENANT_COLUMN, raw_table_name
from warehouse.build_db import ensure_raw_tables
from tests.dbt.build_data import create_build_db, utc
from tests.dbt.test_dbt_marts import artist, booking, organization, raw_rows
from warehouse.dbt_runner import build_all, run_dbt

D1, D2, D3 = dt.date(2024, 6, 30), dt.date(2024, 7, 15), dt.date(2024, 7, 20)
LATER = utc(2024, 7, 2)


def build_tables(db: Path) -> dict[str, list[tuple]]:
    """Every mart and the enriched bookings (without the column naming the writing run), sorted."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        tables = {name: con.execute(f"select * from marts.{name} order by all").fetchall() for name in names}
        tables["int_bookings_enriched"] = con.execute(
            "select * exclude (loaded_at) from intermediate.int_bookings_enriched order by all").fetchall()
        tables["int_projects_enriched"] = con.execute(
            "select * from intermediate.int_projects_enriched order by all").fetchall()
    finally:
        con.close()
    return tables


def full_refresh_of_copy(source_db: Path, folder: Path, as_of: dt.date) -> dict[str, list[tuple]]:
    """Copy the raw tables of `source_db` into a new database, build it from scratch, read it."""
    folder.mkdir()
    db = folder / "build.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute("attach ? as source (read_only)", [str(source_db)])
        for table in RAW_TABLES:
            name = raw_table_name(table)
            con.execute(f"create table main.{name} as select * from source.main.{name}")
        con.execute("detach source")
        ensure_raw_tables(con)  # the (empty) raw_files_* tables of file drops
    finally:
        con.close()
    # models only: the data tests run in the incremental builds being checked
    run_dbt(["build", "--full-refresh", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
            build_db=db, work_dir=folder / "work", as_of=as_of)
    return build_tables(db)


def assert_same_tables(incremental: dict[str, list[tuple]], reference: dict[str, list[tuple]]) -> None:
    assert incremental.keys() == reference.keys()
    for name in reference:
        assert incremental[name] == reference[name], f"{name} differs from the full-refresh build"


def last_load(db: Path) -> dt.datetime:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select max(loaded_at) from intermediate.int_bookings_enriched").fetchall()[0][0]
    finally:
        con.close()


def written_since(db: Path, since: dt.datetime) -> dict[str, int]:
    """Rows of int_bookings_enriched per tenant written by the runs after `since`."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select tenant_id, count(*) from intermediate.int_bookings_enriched where loaded_at > ? "
            "group by tenant_id", [since]).fetchall()
    finally:
        con.close()
    return dict(rows)


def tenant_changes(db: Path) -> dict[str, str]:
    """The tenants the incremental marts recomputed in the last run, with the reason."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("select tenant_id, reason from intermediate.int_tenant_changes").fetchall())
    finally:
        con.close()


def service_months(db: Path, tenant_id: str) -> list[dt.date]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [row[0] for row in con.execute(
            "select distinct service_month from intermediate.int_bookings_enriched where tenant_id = ? order by 1",
            [tenant_id]).fetchall()]
    finally:
        con.close()


def insert(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    names = list(RAW_TABLES[table])
    values = [json.dumps(row[n]) if RAW_TABLES[table][n] == "JSON" and row.get(n) is not None else row.get(n)
              for n in names]
    columns = ", ".join(f'"{n}"' for n in names)
    con.execute(f"insert into main.{raw_table_name(table)} ({columns}) values ({', '.join('?' for _ in names)})",
                values)


def move(con, booking_id: str, start: dt.datetime, end: dt.datetime, tz: str | None = None) -> None:
    con.execute("update main.raw_bookings set start_date = ?, end_date = ?, timezone = coalesce(?, timezone), "
                "updated_at = ? where id = ?", [start, end, tz, LATER, booking_id])


@pytest.fixture(scope="module")
def first_build(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("incremental")
    db = create_build_db(root / "build.duckdb", raw_rows())
    assert build_all(db, root / "work", D1) is True          # no build state yet: full refresh
    return db, root / "work"


def test_incremental_builds_equal_full_refresh_builds(first_build, tmp_path):
    db, work = first_build
    first = last_load(db)
    assert service_months(db, "t-eur") == [dt.date(2024, 5, 1), dt.date(2024, 6, 1), dt.date(2024, 7, 1)]

    # --- round 1 -------------------------------------------------------------------------------
    con = duckdb.connect(str(db))
    try:
        con.execute("update main.raw_bookings set status = 'CANCELLED', payment_status = 'REFUNDED', "
                    "updated_at = ? where id = 'A2'", [LATER])
        # a correction without an updated_at bump is still seen (the row hash covers the columns)
        con.execute("update main.raw_bookings set final_price = 1111.11 where id = 'A1'")
        move(con, "A7", utc(2024, 3, 10, 10), utc(2024, 3, 10, 11))       # April keeps A5
        move(con, "B4", utc(2024, 8, 20, 9), utc(2024, 8, 20, 10))        # May of t-eur is left empty
        con.execute("delete from main.raw_bookings where id in ('B5', 'A10')")  # July of t-eur left empty
        insert(con, "bookings", booking("t-usd", "A13", "a-dan", "COMPLETED", payment="PENDING",
                                        final_price="77.70", currency="GBP",
                                        start=utc(2024, 7, 10, 10), end=utc(2024, 7, 10, 12)))
        insert(con, "organizations", organization("t-new", {"base_currency": "CHF"}))
        insert(con, "artists", artist("t-new", "n-1", "Nia"))
        insert(con, "bookings", booking("t-new", "N1", "n-1", "COMPLETED", payment="PAID", currency="EUR",
                                        final_price="640.00", start=utc(2024, 7, 1, 9), end=utc(2024, 7, 1, 10)))
        con.execute("""update main.raw_organizations set settings = '{"base_currency": "GBP"}', updated_at = ?
                       where id = 't-eur'""", [LATER])
    finally:
        con.close()

    assert build_all(db, work, D2) is False                 # same project: incremental
    assert_same_tables(build_tables(db), full_refresh_of_copy(db, tmp_path / "ref1", D2))
    assert service_months(db, "t-eur") == [dt.date(2024, 6, 1), dt.date(2024, 8, 1)]
    rewritten = written_since(db, first)
    assert "t-canary" not in rewritten                       # untouched tenant: not rewritten
    assert rewritten["t-eur"] == 4 and rewritten["t-new"] == 1   # base currency changed: all rows
    assert rewritten["t-usd"] == 10                          # all but May (A4, A12): untouched
    assert tenant_changes(db) == {"t-usd": "changed", "t-eur": "changed", "t-new": "new"}

    # --- round 2 -------------------------------------------------------------------------------
    con = duckdb.connect(str(db))
    try:
        for table in RAW_TABLES:                               # the tenant leaves, as ingestion does it
            con.execute(f'delete from main.{raw_table_name(table)} where "{TENANT_COLUMN[table]}" = ?', ["t-canary"])
        move(con, "A1", utc(2024, 1, 1, 2), utc(2024, 1, 1, 3), tz="America/Los_Angeles")  # local 2023-12-31
        con.execute("""update main.raw_organizations set settings = '{"base_currency": "EUR"}', updated_at = ?
                       where id = 't-eur'""", [LATER])
    finally:
        con.close()

    assert build_all(db, work, D3) is False
    assert_same_tables(build_tables(db), full_refresh_of_copy(db, tmp_path / "ref2", D3))
    assert dt.date(2023, 12, 1) in service_months(db, "t-usd")
    assert service_months(db, "t-canary") == []
    assert tenant_changes(db) == {"t-usd": "changed", "t-eur": "changed", "t-canary": "removed"}

    # --- round 3: nothing changed ------------------------------------------------------------------
    before, loaded = build_tables(db), last_load(db)
    assert build_all(db, work, D3) is False
    assert written_since(db, loaded) == {}
    assert tenant_changes(db) == {}
    assert build_tables(db) == before


def test_changed_project_fingerprint_forces_a_full_refresh(first_build, monkeypatch):
    db, work = first_build
    import warehouse.dbt_runner as runner

    loaded = last_load(db)
    monkeypatch.setattr(runner, "project_fingerprint", lambda: "another project")
    assert build_all(db, work, D3) is True
    everything = written_since(db, loaded)
    assert sum(everything.values()) == len(build_tables(db)["int_bookings_enriched"])
    assert runner.stored_fingerprint(db) == "another project"  # recorded: the next run is incremental


def test_money_survives_incremental_rewrites(first_build):
    """Rows copied through an incremental batch keep their exact decimal types."""
    db, _ = first_build
    con = duckdb.connect(str(db), read_only=True)
    try:
        types = dict(con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'intermediate' and table_name = 'int_bookings_enriched'").fetchall())
        sample = con.execute("select value_base from intermediate.int_bookings_enriched "
                             "where value_base is not null limit 1").fetchall()[0][0]
    finally:
        con.close()
    assert types["value_base"] == "DECIMAL(18,2)" and types["value_usd"] == "DECIMAL(18,2)"
    assert types["fx_usd_per_unit"] == "DECIMAL(18,8)" and types["source_row_hash"] == "UBIGINT"
    assert types["loaded_at"] == "TIMESTAMP WITH TIME ZONE"
    assert isinstance(sample, Decimal)


def test_a_build_limited_to_the_pending_tenants(tmp_path):
    """Ingestion marks the tenants it is about to change; the next build compares only their
    bookings and tests only their rows, gives the marts of a full refresh, and clears the marks
    only when it succeeds."""
    from warehouse.dbt_runner import tenant_failures
    from warehouse.pending import build_scope, mark_pending

    db, work = create_build_db(tmp_path / "build.duckdb", raw_rows()), tmp_path / "work"
    build_all(db, work, D1)

    con = duckdb.connect(str(db))
    try:
        mark_pending(con, ["t-usd"])
        con.execute("update main.raw_bookings set status = 'CANCELLED', updated_at = ? where id = 'A2'", [LATER])
        move(con, "A7", utc(2024, 3, 10, 10), utc(2024, 3, 10, 11))
        con.execute("update main.raw_projects set spent = 6000.00, updated_at = ? where id = 'pa1'", [LATER])
        con.execute("update main.raw_project_milestones set status = 'COMPLETED', updated_at = ? where id = 'ma3'",
                    [LATER])
    finally:
        con.close()
    assert build_scope(db) == ["t-usd"]
    assert build_all(db, work, D1) is False
    assert build_scope(db) is None                                      # marks cleared
    assert tenant_changes(db) == {"t-usd": "changed"}
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    assert {r["unique_id"].split(".")[0] for r in results} == {"model", "test"}  # the unchanged FX seed is not reloaded
    ran = {r["unique_id"].split(".")[2] for r in results}
    assert "stg_operational__bookings" not in ran                       # unchanged views are not re-created…
    assert "not_null_stg_operational__bookings_booking_id" in ran       # …but their tests run
    assert "not_null_fx_rates_rate_date" not in ran                     # the seed's own tests ran with it
    assert "assert_bookings_have_fx_rates" in ran                       # bookings against the seed still run
    assert_same_tables(build_tables(db), full_refresh_of_copy(db, tmp_path / "ref", D1))

    con = duckdb.connect(str(db))                                       # a tenant leaves, as ingestion does it
    try:
        mark_pending(con, ["t-canary"])
        for table in RAW_TABLES:
            con.execute(f'delete from main.{raw_table_name(table)} where "{TENANT_COLUMN[table]}" = ?', ["t-canary"])
    finally:
        con.close()
    build_all(db, work, D1)
    assert_same_tables(build_tables(db), full_refresh_of_copy(db, tmp_path / "ref-left", D1))

    con = duckdb.connect(str(db))                                       # a new day: everything is looked at
    try:
        mark_pending(con, ["t-eur"])
        move(con, "A1", utc(2024, 6, 28, 10), utc(2024, 6, 28, 11))
    finally:
        con.close()
    build_all(db, work, D2)
    assert_same_tables(build_tables(db), full_refresh_of_copy(db, tmp_path / "ref-d2", D2))

    def bad_priority(tenant_id: str) -> None:
        con = duckdb.connect(str(db))
        try:
            mark_pending(con, ["t-usd"])
            con.execute("update main.raw_bookings set priority = 'WHENEVER' where id = (select min(id) from "
                        "main.raw_bookings where org_id = ?)", [tenant_id])
        finally:
            con.close()

    def failed_tests() -> dict[str, list[str]]:
        return {tenant: [reason.split(":")[0] for reason in reasons] for tenant, reasons in tenant_failures(db).items()}

    bad_priority("t-usd")                                              # in the scope: the test sees it…
    build_all(db, work, D2)
    assert failed_tests() == {"t-usd": ["dbt test accepted_values_stg_operational__bookings_priority__"
                                        "LOW__MEDIUM__HIGH__URGENT"]}  # …and fails that tenant only
    assert build_scope(db) == ["t-usd"]                                 # kept for the next build
    con = duckdb.connect(str(db))
    try:
        con.execute("update main.raw_bookings set priority = 'MEDIUM' where priority = 'WHENEVER'")
    finally:
        con.close()
    build_all(db, work, D2)
    assert failed_tests() == {} and build_scope(db) is None

    bad_priority("t-eur")                                              # outside the scope: not tested now…
    build_all(db, work, D2)
    assert failed_tests() == {}
    build_all(db, work, D2)                                             # …but by the next unscoped build
    assert list(failed_tests()) == ["t-eur"]


def test_a_build_limited_to_the_tables_that_changed(tmp_path):
    """Marks narrowed by extraction to the raw tables it wrote: the build runs what depends on
    them only, with the marts of a full refresh; when no table changed, dbt does not run at all."""
    from warehouse.pending import build_scope, mark_pending, narrow_marks

    db, work = create_build_db(tmp_path / "build.duckdb", raw_rows()), tmp_path / "work"
    build_all(db, work, D1)

    con = duckdb.connect(str(db))
    try:
        marked_at = mark_pending(con, ["t-usd"])
        con.execute("update main.raw_bookings set status = 'CANCELLED', updated_at = ? where id = 'A2'", [LATER])
        narrow_marks(con, marked_at, {"t-usd": {"bookings"}})
    finally:
        con.close()
    assert build_all(db, work, D1) is False
    results_file = work / "target" / "run_results.json"
    ran = {r["unique_id"].split(".")[2] for r in json.loads(results_file.read_text())["results"]}
    assert {"int_bookings_enriched", "kpi_summary", "fct_revenue_monthly", "int_tenant_fingerprints"} <= ran
    assert "not_null_stg_operational__bookings_booking_id" in ran
    assert "fct_project_health" not in ran and "int_projects_enriched" not in ran   # projects did not change
    assert not any(name.startswith("not_null_stg_operational__projects") for name in ran)
    assert build_scope(db) is None
    assert_same_tables(build_tables(db), full_refresh_of_copy(db, tmp_path / "ref", D1))

    con = duckdb.connect(str(db))
    try:
        marked_at = mark_pending(con, ["t-eur"])
        narrow_marks(con, marked_at, {"t-eur": set()})                    # looked at: nothing changed
    finally:
        con.close()
    before = results_file.stat().st_mtime_ns
    assert build_all(db, work, D1) is False
    assert results_file.stat().st_mtime_ns == before                      # no dbt invocation
    assert build_scope(db) is None                                        # and the marks are cleared
