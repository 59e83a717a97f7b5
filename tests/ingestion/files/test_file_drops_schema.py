"""The file-drop contract follows the operational models and the raw contract."""
from __future__ import annotations

from sqlalchemy import CheckConstraint

from ingestion.files import ensure_file_tables
from ingestion.files.schema import COVERED_ELSEWHERE, MODELS, ROW_CHECKS, SPECS
from ingestion.files.tables import file_table_columns
from ingestion.raw_schema import RAW_TABLES
from warehouse.build_db import connect_build


def test_every_model_check_constraint_is_mirrored():
    for entity, model in MODELS.items():
        named = {c.name for c in model.__table__.constraints
                 if isinstance(c, CheckConstraint) and str(c.name).startswith("ck_")}
        mirrored = {check.constraint for check in ROW_CHECKS[entity]}
        assert {n for n in named if not COVERED_ELSEWHERE.match(n)} <= mirrored, entity


def test_required_columns_are_the_models_not_null_columns_without_default():
    assert SPECS["bookings"].required == ("id", "artist_id", "title", "type", "status", "start_date", "end_date",
                                          "duration_minutes")
    assert SPECS["artists"].required == ("id", "name")
    assert SPECS["projects"].required == ("id", "name", "type", "status")
    assert SPECS["project_milestones"].required == ("id", "project_id", "title", "status")
    assert SPECS["bookings"].column("status").allowed[0] == "DRAFT"
    assert SPECS["bookings"].column("artist_id").references == "artists"
    assert SPECS["bookings"].column("title").max_length == 200


def test_file_tables_mirror_the_raw_contract_and_creation_is_idempotent(tmp_path):
    conn = connect_build(tmp_path / "w.duckdb")
    conn.execute("CREATE TABLE ingestion_runs (run_id VARCHAR, source VARCHAR, status VARCHAR)")  # another source's
    ensure_file_tables(conn)
    ensure_file_tables(conn)
    for entity in SPECS:
        described = conn.execute(f"DESCRIBE raw_files_{entity}").fetchall()
        assert [(r[0], r[1]) for r in described] == [
            (n, t.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")) for n, t in file_table_columns(entity).items()]
        assert list(file_table_columns(entity))[: len(RAW_TABLES[entity])] == list(RAW_TABLES[entity])
    runs = [r[0] for r in conn.execute("DESCRIBE ingestion_runs").fetchall()]
    assert {"notes", "rows_quarantined", "checksum"} <= set(runs)
    conn.close()
