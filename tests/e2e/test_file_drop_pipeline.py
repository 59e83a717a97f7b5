"""A booking delivered as a file drop reaches only its tenant's published snapshot; a bad row is
quarantined with a reason and the good rows still land."""
from __future__ import annotations

import duckdb

from auditoryx.pipeline import refresh
from warehouse.reader import open_tenant_snapshot

HEADER = "id,artist_id,title,type,status,start_date,end_date,duration_minutes,timezone,final_price,currency,payment_status"


def _bookings_30d(settings, tenant_id: str) -> int:
    snap = open_tenant_snapshot(settings.published_dir, tenant_id)
    try:
        return int(snap.query("SELECT bookings_30d FROM kpi_summary")["bookings_30d"][0])
    finally:
        snap.close()


def test_dropped_booking_is_counted_and_bad_rows_quarantined(refreshed):
    settings, (tenant_a, tenant_b) = refreshed
    before = {t.id: _bookings_30d(settings, t.id) for t in (tenant_a, tenant_b)}
    artist = open_tenant_snapshot(settings.published_dir, tenant_b.id).query(
        "SELECT artist_id FROM dim_artists ORDER BY artist_id LIMIT 1")["artist_id"][0]
    day = settings.as_of.isoformat()
    folder = settings.resolved_landing_dir / tenant_b.slug / "bookings"
    folder.mkdir(parents=True)
    (folder / "late-sessions.csv").write_text("\n".join([
        HEADER,
        f"drop-1,{artist},Dropped session,MIXING,COMPLETED,{day}T08:00:00Z,{day}T10:00:00Z,120,Europe/Berlin,250.00,EUR,PAID",
        f"drop-2,{artist},Bad currency,MIXING,COMPLETED,{day}T08:00:00Z,{day}T10:00:00Z,120,Europe/Berlin,10.00,EURO,PAID",
    ]) + "\n", encoding="utf-8")

    result = refresh(settings, [tenant_a.id])  # B's drop is picked up and B is published too
    assert tenant_b.id in result.publication.tenant_ids
    assert _bookings_30d(settings, tenant_b.id) == before[tenant_b.id] + 1
    assert _bookings_30d(settings, tenant_a.id) == before[tenant_a.id]
    assert not any(folder.iterdir())  # archived, not deleted
    assert any(settings.resolved_archive_dir.rglob("*late-sessions.csv"))
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        reasons = conn.execute("SELECT tenant_id, row_number, reason FROM quarantine").fetchall()
    assert len(reasons) == 1 and reasons[0][:2] == (tenant_b.id, 2) and "EURO" in reasons[0][2]
