"""File drops: tenants' CSV/Parquet/JSON files → validated ``raw_files_<entity>`` tables (no Dagster).

Entry points: :func:`ingest_file_drops`, :func:`ensure_file_tables` and :func:`landing_folder`
(``<landing>/<tenant_id>``: folders are keyed by tenant id, never by slug). See
:mod:`ingestion.files.ingest` for the flow, :mod:`ingestion.files.validate` for the rules.
"""
from ingestion.files.ingest import FileDropLimits, FileDropReport, FileDropResult, ingest_file_drops, landing_folder
from ingestion.files.schema import ENTITIES, ISO_4217_CODES
from ingestion.files.tables import ensure_file_tables, file_table_name

__all__ = [
    "ENTITIES",
    "ISO_4217_CODES",
    "FileDropLimits",
    "FileDropReport",
    "FileDropResult",
    "ensure_file_tables",
    "file_table_name",
    "ingest_file_drops",
    "landing_folder",
]
