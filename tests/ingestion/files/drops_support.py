"""File-drop test helpers: a landing folder, an archive folder and a real DuckDB build file in tmp_path."""
from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from ingestion.files import FileDropReport, ingest_file_drops
from warehouse.build_db import connect_build

TENANT_A, TENANT_B = "5f0c8a2e-1b6d-4c3e-9a47-0d2e6b8f1a01", "9b3e7d14-62a8-4f0b-8c5d-7e1f2a3b4c02"
TENANTS = {TENANT_A: "acme", TENANT_B: "beta"}  # tenant id (names the landing folder) → slug (display)
NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.timezone.utc)

BOOKING_HEADER = ["id", "artist_id", "title", "type", "status", "start_date", "end_date", "duration_minutes",
                  "currency", "timezone", "budget", "final_price"]


def booking(id_: str, artist_id: str = "art-1", **overrides) -> dict:
    row = {"id": id_, "artist_id": artist_id, "title": f"Session {id_}", "type": "RECORDING_SESSION",
           "status": "CONFIRMED", "start_date": "2026-05-01T10:00:00Z", "end_date": "2026-05-01T12:00:00Z",
           "duration_minutes": "120", "currency": "EUR", "timezone": "Europe/Paris", "budget": "100.00",
           "final_price": "90.50"}
    row.update(overrides)
    return row


def csv_text(rows: list[dict], header: list[str] | None = None, newline: str = "\n") -> str:
    header = header or list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator=newline, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class Drops:
    def __init__(self, root: Path):
        self.landing = root / "landing"
        self.archive = root / "archive"
        self.landing.mkdir()
        self.conn = connect_build(root / "build.duckdb")

    def write(self, folder: str, entity: str, name: str, content: str | bytes) -> Path:
        """``<landing>/<folder>/<entity>/<name>``: ``folder`` is a tenant id (or a bad name on purpose)."""
        path = self.landing / folder / entity / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def artists(self, tenant: str = TENANT_A, ids=("art-1", "art-2"), name: str = "artists.csv") -> Path:
        return self.write(tenant, "artists", name, csv_text([{"id": i, "name": f"Artist {i}"} for i in ids]))

    def run(self, now: dt.datetime = NOW, **kwargs) -> FileDropReport:
        return ingest_file_drops(self.conn, self.landing, self.archive, TENANTS, now=now, **kwargs)

    def one(self, report: FileDropReport):
        assert len(report.files) == 1, report.files
        return report.files[0]

    def rows(self, sql: str, params=None) -> list[tuple]:
        return self.conn.execute(sql, params or []).fetchall()

    def quarantine(self) -> list[tuple]:
        return self.rows('SELECT row_number, "column", value, reason FROM quarantine ORDER BY row_number, reason')

    def reasons(self) -> list[str]:
        return [row[3] for row in self.quarantine()]

    def snapshot(self) -> dict[str, list[tuple]]:
        tables = ["raw_files_artists", "raw_files_projects", "raw_files_project_milestones", "raw_files_bookings",
                  "quarantine", "file_registry"]
        return {t: self.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
