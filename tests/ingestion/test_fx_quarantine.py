"""A booking in a currency without FX rates (DKK: valid ISO 4217, absent from the FX seed) is
quarantined before the build with the currency named, from file drops and from the operational
database; the raw tables stay a copy of the source."""
from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

import pytest

from ingestion.files import ISO_4217_CODES
from ingestion.fx import currencies_in_seed, fx_currencies
from ingestion.operational_quarantine import apply_quarantine, plan_quarantine, quarantined_rows
from warehouse.build_db import connect_build, ensure_raw_tables

sys.path.insert(0, str(Path(__file__).parent / "files"))
from drops_support import BOOKING_HEADER, TENANT_A, Drops, booking, csv_text  # noqa: E402

NOW = dt.datetime(2026, 6, 30, 12, tzinfo=dt.timezone.utc)


def test_currencies_in_seed_is_pure():
    lines = io.StringIO("rate_date,currency,usd_per_unit,units_per_usd\n2022-01-03,eur,1.1,0.9\n2022-01-04,EUR,1,1\n"
                        "2022-01-03,GBP,1.3,0.7\n")
    assert currencies_in_seed(lines) == {"EUR", "GBP"}
    with pytest.raises(ValueError):
        currencies_in_seed(io.StringIO("a,b\n1,2\n"))
    shipped = fx_currencies()
    assert {"USD", "EUR"} <= shipped and "DKK" not in shipped and "DKK" in ISO_4217_CODES


def test_a_dropped_booking_without_fx_rate_is_quarantined(tmp_path):
    drops = Drops(tmp_path)
    try:
        drops.artists()
        drops.write(TENANT_A, "bookings", "b.csv", csv_text(
            [booking("ok"), booking("crowns", currency="DKK"), booking("euro-typo", currency="EURO")], BOOKING_HEADER))
        report = drops.run()
        result = [f for f in report.files if f.entity == "bookings"][0]
        assert (result.status, result.rows_loaded, result.rows_quarantined) == ("ok", 1, 2)
        reasons = drops.reasons()
        assert any("'DKK' has no FX rate" in r for r in reasons)
        assert any("'EURO' is not an ISO 4217 code" in r for r in reasons)
        assert not any("EURO" in r and "FX rate" in r for r in reasons)  # one reason per problem
        assert drops.rows("SELECT id FROM raw_files_bookings") == [("ok",)]
    finally:
        drops.conn.close()


def test_operational_bookings_without_fx_rate_are_listed_and_released(tmp_path):
    conn = connect_build(tmp_path / "build.duckdb")
    try:
        ensure_raw_tables(conn)
        conn.executemany("INSERT INTO raw_bookings (id, org_id, currency) VALUES (?, ?, ?)",
                         [["b1", "t1", "DKK"], ["b2", "t1", "EUR"], ["b3", "t2", "USD"], ["b4", "t2", None]])
        codes = fx_currencies()
        assert plan_quarantine(conn, codes) == ["t1"]
        apply_quarantine(conn, ["t1"], NOW)
        rows = quarantined_rows(conn)
        assert [(r[0], r[1], r[2]) for r in rows] == [("t1", "bookings", "b1")] and "'DKK' has no FX rate" in rows[0][3]
        assert conn.execute("SELECT count(*) FROM raw_bookings").fetchone() == (4,)  # the copy of the source stays
        assert plan_quarantine(conn, codes) == []                                     # unchanged: nothing to mark
        apply_quarantine(conn, [], NOW)
        assert quarantined_rows(conn, ["t2"]) == []
        assert plan_quarantine(conn, codes | {"DKK"}) == ["t1"]                       # a rate arrives: released
        apply_quarantine(conn, ["t1"], NOW)
        assert quarantined_rows(conn) == []
    finally:
        conn.close()


def test_only_the_named_tenants_are_recomputed_unless_the_currencies_changed(tmp_path):
    """A refresh looks at the tenants whose raw bookings may have changed; a row of another tenant
    is not looked at (it could not have changed), until the FX seed's currencies differ from those
    the stored list was computed with: then every tenant is."""
    conn = connect_build(tmp_path / "build.duckdb")
    try:
        ensure_raw_tables(conn)
        insert = "INSERT INTO raw_bookings (id, org_id, currency) VALUES (?, ?, ?)"
        conn.executemany(insert, [["a1", "ta", "USD"], ["b1", "tb", "USD"]])
        codes = fx_currencies()
        assert plan_quarantine(conn, codes, ["ta"]) == []  # nothing recorded yet: every tenant looked at
        apply_quarantine(conn, [], NOW, codes)
        conn.executemany(insert, [["a2", "ta", "DKK"], ["b2", "tb", "DKK"]])
        assert plan_quarantine(conn, codes, ["ta"]) == ["ta"]  # tb's row is not looked at
        apply_quarantine(conn, ["ta"], NOW, codes)
        assert [r[:3] for r in quarantined_rows(conn)] == [("ta", "bookings", "a2")]
        assert plan_quarantine(conn, codes, []) == []  # no tenant changed: nothing to look at
        apply_quarantine(conn, [], NOW, codes)
        assert [r[:3] for r in quarantined_rows(conn)] == [("ta", "bookings", "a2")]  # kept as it was
        assert plan_quarantine(conn, codes, ["tb"]) == ["tb"]
        apply_quarantine(conn, ["tb"], NOW, codes)
        assert [r[:3] for r in quarantined_rows(conn)] == [("ta", "bookings", "a2"), ("tb", "bookings", "b2")]
        assert plan_quarantine(conn, codes | {"DKK"}, []) == ["ta", "tb"]  # a rate arrives: every tenant released
        apply_quarantine(conn, ["ta", "tb"], NOW, codes | {"DKK"})
        assert quarantined_rows(conn) == []
        assert plan_quarantine(conn, codes | {"DKK"}, []) == []  # and recorded: back to the named tenants
    finally:
        conn.close()


def test_the_tenants_a_quarantine_looks_at_follow_the_pending_marks():
    from warehouse.pending import EVERY_TABLE, EVERY_TENANT, NO_TABLE, tenants_changing

    assert tenants_changing([], "bookings") == []
    assert tenants_changing([("t1", "bookings"), ("t2", "artists"), ("t3", NO_TABLE), ("t4", EVERY_TABLE)],
                            "bookings") == ["t1", "t4"]
    assert tenants_changing([("t1", "bookings"), (EVERY_TENANT, EVERY_TABLE)], "bookings") is None
