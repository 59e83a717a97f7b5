"""File-drop ingestion runs under a DuckDB memory cap (files stream into temporary tables that
spill beyond it); the connection's own setting is restored afterwards."""
from __future__ import annotations

import time

import pytest
from drops_support import BOOKING_HEADER, TENANT_A, booking, csv_text

from ingestion.files import FileDropLimits


def test_a_large_file_loads_under_a_small_memory_cap(drops):
    before = drops.rows("SELECT current_setting('memory_limit')")
    drops.artists()
    rows = [booking(f"b{i:06d}", notes="x" * 50) for i in range(60_000)]
    drops.write(TENANT_A, "bookings", "big.csv", csv_text(rows, [*BOOKING_HEADER, "notes"]))
    started = time.perf_counter()
    report = drops.run(limits=FileDropLimits(memory_limit="48MB"))
    elapsed = time.perf_counter() - started
    big = [f for f in report.files if f.entity == "bookings"][0]
    assert (big.status, big.rows_loaded, big.rows_quarantined) == ("ok", 60_000, 0), (big.error, elapsed)
    assert drops.rows("SELECT current_setting('memory_limit')") == before


def test_a_malformed_memory_cap_is_refused(drops):
    with pytest.raises(ValueError, match="memory_limit"):
        drops.artists()
        drops.run(limits=FileDropLimits(memory_limit="48MB; DROP TABLE x"))
