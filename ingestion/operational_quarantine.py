"""Operational rows the build could not use, kept out of it before it runs, with a reason.

The operational database accepts any ISO 4217 currency; the build converts amounts only for the
currencies of the FX seed (:mod:`ingestion.fx`). A booking in another currency (DKK…) would fail
the data test ``assert_bookings_have_fx_rates``; it is quarantined here instead: listed in
``main.operational_quarantine`` (tenant, entity, id, column, value, reason), which dbt staging
leaves out (``dbt_project/macros/with_file_drops.sql``). The raw tables stay an exact copy of
the source (extraction, watermarks and key reconciliation are unchanged).

The list is recomputed from the raw tables after each extraction: a fixed row, or a currency
added to the seed, releases the row again. The caller names the tenants whose raw bookings may
have changed since the last successful build (the pending marks); only theirs are recomputed,
unless the seed's currencies differ from those the stored list was computed with (recorded in
``main.operational_quarantine_fx``): then every tenant's. Two steps, so that the caller can mark
the tenants whose list changes as pending before it changes (:func:`plan_quarantine`, then
:func:`apply_quarantine`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

import duckdb

from ingestion.raw_schema import OPERATIONAL_QUARANTINE_TABLE, raw_table_name
from warehouse.build_db import ensure_raw_tables, transaction

_NEW = "_oq_new"
_FX_TABLE = "operational_quarantine_fx"  # the FX seed's currencies the stored list was computed with
_FX_DDL = f"CREATE TABLE IF NOT EXISTS main.{_FX_TABLE} (codes VARCHAR[] NOT NULL)"


def recorded_codes(conn: duckdb.DuckDBPyConnection) -> list[str] | None:
    """The currencies the stored quarantine was computed with (None: not recorded yet)."""
    conn.execute(_FX_DDL)
    rows = conn.execute(f"SELECT codes FROM main.{_FX_TABLE}").fetchall()
    return sorted(rows[0][0]) if rows else None


def plan_quarantine(conn: duckdb.DuckDBPyConnection, fx_codes: Collection[str],
                    tenant_ids: Collection[str] | None = None) -> list[str]:
    """Compute the quarantine (temp table ``_oq_new``) of ``tenant_ids`` (None: every tenant; every
    tenant too when ``fx_codes`` are not those the stored list was computed with); return the
    tenants whose quarantined rows differ from the stored ones (sorted)."""
    ensure_raw_tables(conn)
    codes = sorted(set(fx_codes))
    if recorded_codes(conn) != codes:
        tenant_ids = None
    scope = {"all": tenant_ids is None, "t": sorted(set(tenant_ids or ()))}
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {_NEW} AS "
        f"SELECT org_id AS tenant_id, 'bookings' AS entity, id, 'currency' AS \"column\", currency AS value, "
        f"'currency ''' || currency || ''' has no FX rate (not in the FX seed): its amounts cannot be converted' "
        f"AS reason FROM main.{raw_table_name('bookings')} "
        f"WHERE ($all OR org_id IN (SELECT unnest($t::VARCHAR[]))) "
        f"AND currency IS NOT NULL AND NOT list_contains($codes::VARCHAR[], currency)",
        {"codes": codes, **scope},
    )
    rows = conn.execute(
        f"SELECT DISTINCT tenant_id FROM ("
        f"(SELECT tenant_id, entity, id, reason FROM {_NEW} "
        f" EXCEPT SELECT tenant_id, entity, id, reason FROM main.{OPERATIONAL_QUARANTINE_TABLE}) "
        f"UNION ALL "
        f"(SELECT tenant_id, entity, id, reason FROM main.{OPERATIONAL_QUARANTINE_TABLE} "
        f" WHERE $all OR list_contains($t::VARCHAR[], tenant_id) "
        f" EXCEPT SELECT tenant_id, entity, id, reason FROM {_NEW})) ORDER BY 1", scope).fetchall()
    return [row[0] for row in rows]


def apply_quarantine(conn: duckdb.DuckDBPyConnection, changed: Iterable[str], now: dt.datetime,
                     fx_codes: Collection[str] | None = None) -> None:
    """Store the planned quarantine of the ``changed`` tenants (the others' rows are unchanged) and,
    given, the currencies it was computed with (the ones passed to ``plan_quarantine``)."""
    changed = sorted(set(changed))
    with transaction(conn):
        if changed:
            conn.execute(f"DELETE FROM main.{OPERATIONAL_QUARANTINE_TABLE} WHERE list_contains($t, tenant_id)",
                         {"t": changed})
            conn.execute(f"INSERT INTO main.{OPERATIONAL_QUARANTINE_TABLE} "
                         f"SELECT tenant_id, entity, id, \"column\", value, reason, $now FROM {_NEW} "
                         f"WHERE list_contains($t, tenant_id)", {"t": changed, "now": now})
        if fx_codes is not None:
            conn.execute(_FX_DDL)
            conn.execute(f"DELETE FROM main.{_FX_TABLE}")
            conn.execute(f"INSERT INTO main.{_FX_TABLE} VALUES ($codes::VARCHAR[])", {"codes": sorted(set(fx_codes))})
    conn.execute(f"DROP TABLE IF EXISTS temp.{_NEW}")


def quarantined_rows(conn: duckdb.DuckDBPyConnection, tenant_ids: Iterable[str] | None = None) -> list[tuple]:
    """(tenant_id, entity, id, reason) of the quarantined operational rows, of ``tenant_ids`` (None: all)."""
    ensure_raw_tables(conn)
    ids = None if tenant_ids is None else sorted(set(tenant_ids))
    return conn.execute(
        f"SELECT tenant_id, entity, id, reason FROM main.{OPERATIONAL_QUARANTINE_TABLE} "
        "WHERE $all OR list_contains($t, tenant_id) ORDER BY ALL",
        {"all": ids is None, "t": ids or []}).fetchall()
