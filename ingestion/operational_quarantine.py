"""Operational rows the build could not use, kept out of it before it runs, with a reason.

The operational database accepts any ISO 4217 currency; the build converts amounts only for the
currencies of the FX seed (:mod:`ingestion.fx`). A booking in another currency (DKK…) would fail
the data test ``assert_bookings_have_fx_rates``; it is quarantined here instead: listed in
``main.operational_quarantine`` (tenant, entity, id, column, value, reason), which dbt staging
leaves out (``dbt_project/macros/with_file_drops.sql``). The raw tables stay an exact copy of
the source (extraction, watermarks and key reconciliation are unchanged).

The list is recomputed from the raw tables for every tenant after each extraction (one scan of
``raw_bookings``): a fixed row, or a currency added to the seed, releases the row again. Two
steps, so that the caller can mark the tenants whose list changes as pending before it changes
(:func:`plan_quarantine`, then :func:`apply_quarantine`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

import duckdb

from ingestion.raw_schema import OPERATIONAL_QUARANTINE_TABLE, raw_table_name
from warehouse.build_db import ensure_raw_tables, transaction

_NEW = "_oq_new"


def plan_quarantine(conn: duckdb.DuckDBPyConnection, fx_codes: Collection[str]) -> list[str]:
    """Compute the quarantine (temp table ``_oq_new``); return the tenants whose quarantined rows
    differ from the stored ones (sorted)."""
    ensure_raw_tables(conn)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {_NEW} AS "
        f"SELECT org_id AS tenant_id, 'bookings' AS entity, id, 'currency' AS \"column\", currency AS value, "
        f"'currency ''' || currency || ''' has no FX rate (not in the FX seed): its amounts cannot be converted' "
        f"AS reason FROM main.{raw_table_name('bookings')} "
        f"WHERE currency IS NOT NULL AND NOT list_contains($codes::VARCHAR[], currency)",
        {"codes": sorted(fx_codes)},
    )
    rows = conn.execute(
        f"SELECT DISTINCT tenant_id FROM ("
        f"(SELECT tenant_id, entity, id, reason FROM {_NEW} "
        f" EXCEPT SELECT tenant_id, entity, id, reason FROM main.{OPERATIONAL_QUARANTINE_TABLE}) "
        f"UNION ALL "
        f"(SELECT tenant_id, entity, id, reason FROM main.{OPERATIONAL_QUARANTINE_TABLE} "
        f" EXCEPT SELECT tenant_id, entity, id, reason FROM {_NEW})) ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def apply_quarantine(conn: duckdb.DuckDBPyConnection, changed: Iterable[str], now: dt.datetime) -> None:
    """Store the planned quarantine of the ``changed`` tenants (the others' rows are unchanged)."""
    changed = sorted(set(changed))
    if changed:
        with transaction(conn):
            conn.execute(f"DELETE FROM main.{OPERATIONAL_QUARANTINE_TABLE} WHERE list_contains($t, tenant_id)",
                         {"t": changed})
            conn.execute(f"INSERT INTO main.{OPERATIONAL_QUARANTINE_TABLE} "
                         f"SELECT tenant_id, entity, id, \"column\", value, reason, $now FROM {_NEW} "
                         f"WHERE list_contains($t, tenant_id)", {"t": changed, "now": now})
    conn.execute(f"DROP TABLE IF EXISTS temp.{_NEW}")


def quarantined_rows(conn: duckdb.DuckDBPyConnection, tenant_ids: Iterable[str] | None = None) -> list[tuple]:
    """(tenant_id, entity, id, reason) of the quarantined operational rows, of ``tenant_ids`` (None: all)."""
    ensure_raw_tables(conn)
    ids = None if tenant_ids is None else sorted(set(tenant_ids))
    return conn.execute(
        f"SELECT tenant_id, entity, id, reason FROM main.{OPERATIONAL_QUARANTINE_TABLE} "
        "WHERE $all OR list_contains($t, tenant_id) ORDER BY ALL",
        {"all": ids is None, "t": ids or []}).fetchall()
