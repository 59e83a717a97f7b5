"""A booking delivered as a file drop reaches only its tenant's published snapshot; a bad row is
quarantined with a reason and the good rows still land. Landing and export folders are named by
tenant id: a deleted tenant's leftovers never reach a new tenant that took its slug."""
from __future__ import annotations

import json

import duckdb
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from auditoryx.pipeline import refresh
from ingestion.files import landing_folder
from operational.db import make_engine
from operational.models import Organization
from operational.permissions import command_line_operator as operator
from reports.csv_export import export_tenant_csv
from warehouse.layout import current_version
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
    folder = landing_folder(settings.resolved_landing_dir, tenant_b.id) / "bookings"
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


def test_reused_slug_gets_neither_the_old_tenants_files_nor_its_export_folder(refreshed):
    settings, (tenant_a, tenant_b) = refreshed
    engine = make_engine(settings.operational_database_url)
    exports = settings.resolved_exports_dir
    old_export = export_tenant_csv(settings.published_dir, exports, tenant_a.id, tenant_a.slug, actor=operator(tenant_a.id))
    a_folder = exports / tenant_a.id
    a_files = {p: p.read_bytes() for p in a_folder.rglob("*") if p.is_file()}
    # A drops a roster, then is deleted before the next refresh picks it up
    left = landing_folder(settings.resolved_landing_dir, tenant_a.id) / "artists" / "left-behind.csv"
    left.parent.mkdir(parents=True)
    left.write_text("id,name\nghost-artist,Ghost Of Tenant A\n", encoding="utf-8")
    by_slug = settings.resolved_landing_dir / tenant_a.slug / "artists" / "by-slug.csv"  # the old layout
    by_slug.parent.mkdir(parents=True)
    by_slug.write_text("id,name\nslug-artist,Ghost By Slug\n", encoding="utf-8")
    with Session(engine) as session, session.begin():
        session.execute(delete(Organization).where(Organization.id == tenant_a.id))
    # a new tenant takes A's slug
    with Session(engine) as session, session.begin():
        session.execute(insert(Organization), [{
            "id": "7d0b3c55-8e2f-4a61-b9d4-2c6e0f1a9b10", "name": "Newcomer", "slug": tenant_a.slug,
            "type": "PRODUCTION_STUDIO", "plan": "FREE", "settings": {"base_currency": "EUR"},
        }])
    engine.dispose()
    newcomer = "7d0b3c55-8e2f-4a61-b9d4-2c6e0f1a9b10"
    assert landing_folder(settings.resolved_landing_dir, newcomer) != left.parent.parent

    result = refresh(settings)
    assert newcomer in result.publication.tenant_ids and tenant_a.id not in result.publication.tenant_ids
    assert current_version(settings.published_dir, tenant_a.id) is None  # retired
    drops = {d.source: d for d in result.ingestion.file_drops.files}
    assert sorted(drops) == sorted([f"file:{tenant_a.id}/artists/left-behind.csv",
                                    f"file:{tenant_a.slug}/artists/by-slug.csv"])
    for drop in drops.values():
        assert (drop.status, drop.tenant_id) == ("rejected", None) and "unknown tenant" in drop.error
    assert drops[f"file:{tenant_a.id}/artists/left-behind.csv"].archived_to.is_relative_to(
        settings.resolved_archive_dir / tenant_a.id)
    assert not left.exists() and not by_slug.exists()
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw_files_artists").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM file_registry WHERE tenant_id = ?", [newcomer]).fetchone() == (0,)
    snap = open_tenant_snapshot(settings.published_dir, newcomer)
    try:
        assert snap.meta()["tenant_slug"] == tenant_a.slug
        names = " ".join(str(v) for row in snap.query("SELECT * FROM dim_artists").rows() for v in row)
        assert "Ghost Of Tenant A" not in names and "Ghost By Slug" not in names
    finally:
        snap.close()

    new_export = export_tenant_csv(settings.published_dir, exports, newcomer, tenant_a.slug, actor=operator(newcomer))
    assert new_export.folder.is_relative_to(exports / newcomer)
    assert not new_export.folder.is_relative_to(exports / tenant_a.id)
    assert (new_export.manifest["tenant_id"], new_export.manifest["tenant_slug"]) == (newcomer, tenant_a.slug)
    assert old_export.folder.is_relative_to(a_folder)
    assert json.loads((old_export.folder / "manifest.json").read_text(encoding="utf-8"))["tenant_id"] == tenant_a.id
    assert {p: p.read_bytes() for p in a_folder.rglob("*") if p.is_file()} == a_files  # A's folder untouched
    assert not (exports / tenant_a.slug).exists()  # nothing is keyed by slug
