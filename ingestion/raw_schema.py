"""The contract between the operational database and the warehouse: raw table columns and types.

Each operational table ``X`` lands in DuckDB as ``main.raw_X`` with exactly these columns, typed
as given (timestamps as TIMESTAMPTZ in UTC, money as DECIMAL(18,2), JSON as JSON text). Source
column names are kept (``org_id``); dbt staging renames it to ``tenant_id``.
"""
from __future__ import annotations

RAW_TABLES: dict[str, dict[str, str]] = {
    "organizations": {
        "id": "VARCHAR", "name": "VARCHAR", "slug": "VARCHAR", "type": "VARCHAR", "plan": "VARCHAR",
        "custom_domain": "VARCHAR", "branding": "JSON", "settings": "JSON", "is_active": "BOOLEAN",
        "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
    },
    "users": {
        "id": "VARCHAR", "org_id": "VARCHAR", "email": "VARCHAR", "name": "VARCHAR", "role": "VARCHAR",
        "permissions": "JSON", "is_active": "BOOLEAN", "last_login_at": "TIMESTAMPTZ",
        "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
    },
    "artists": {
        "id": "VARCHAR", "org_id": "VARCHAR", "user_id": "VARCHAR", "name": "VARCHAR",
        "stage_name": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR", "genres": "JSON",
        "skills": "JSON", "bio": "VARCHAR", "avatar_url": "VARCHAR", "social_links": "JSON",
        "verification_status": "VARCHAR", "rating": "DECIMAL(3,2)", "total_bookings": "INTEGER",
        "total_earnings": "DECIMAL(18,2)", "is_active": "BOOLEAN",
        "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
    },
    "projects": {
        "id": "VARCHAR", "org_id": "VARCHAR", "name": "VARCHAR", "description": "VARCHAR",
        "type": "VARCHAR", "status": "VARCHAR", "priority": "VARCHAR", "start_date": "DATE",
        "end_date": "DATE", "deadline": "DATE", "budget": "DECIMAL(18,2)", "spent": "DECIMAL(18,2)",
        "currency": "VARCHAR", "client_name": "VARCHAR", "client_email": "VARCHAR",
        "created_by_id": "VARCHAR", "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
    },
    "project_users": {
        "id": "VARCHAR", "org_id": "VARCHAR", "project_id": "VARCHAR", "user_id": "VARCHAR",
        "role": "VARCHAR", "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
    },
    "project_milestones": {
        "id": "VARCHAR", "org_id": "VARCHAR", "project_id": "VARCHAR", "title": "VARCHAR",
        "description": "VARCHAR", "due_date": "DATE", "status": "VARCHAR", "sort_order": "INTEGER",
        "completed_at": "TIMESTAMPTZ", "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
    },
    "bookings": {
        "id": "VARCHAR", "org_id": "VARCHAR", "project_id": "VARCHAR", "artist_id": "VARCHAR",
        "client_id": "VARCHAR", "created_by_id": "VARCHAR", "assigned_to_id": "VARCHAR",
        "title": "VARCHAR", "type": "VARCHAR", "status": "VARCHAR", "priority": "VARCHAR",
        "start_date": "TIMESTAMPTZ", "end_date": "TIMESTAMPTZ", "duration_minutes": "INTEGER",
        "timezone": "VARCHAR", "location": "VARCHAR", "is_remote": "BOOLEAN",
        "budget": "DECIMAL(18,2)", "final_price": "DECIMAL(18,2)", "currency": "VARCHAR",
        "payment_status": "VARCHAR", "requirements": "JSON", "deliverables": "JSON", "notes": "VARCHAR",
        "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
    },
    "audit_log": {
        "id": "VARCHAR", "org_id": "VARCHAR", "actor_id": "VARCHAR", "action": "VARCHAR",
        "entity": "VARCHAR", "entity_id": "VARCHAR", "before": "JSON", "after": "JSON",
        "at": "TIMESTAMPTZ",
    },
}

# A raw table's own key: one distinct text per row. DuckDB 2.0's default string compression
# (DICT_FSST) finds nothing to share in such a column and costs about five times the plain write
# (10M booking ids: 11.4 CPU s against 2.1 s uncompressed, for twice the bytes), so the raw tables
# store it uncompressed; every other column keeps DuckDB's choice.
UNCOMPRESSED_KEY_COLUMN = "id"

# organizations is keyed by its own id; every other table by org_id
TENANT_COLUMN: dict[str, str] = {table: ("id" if table == "organizations" else "org_id") for table in RAW_TABLES}


def raw_table_name(table: str) -> str:
    if table not in RAW_TABLES:
        raise KeyError(f"unknown operational table: {table}")
    return f"raw_{table}"

# the source column numbering each row's last write (migration 0006; incremental extraction reads
# the rows at or above a bound, see ingestion/operational_source.py). Not copied into the raw tables.
CHANGE_COLUMN = "change_number"

# Entities tenants may also deliver as file drops: they land in raw_files_<entity>, with the same
# columns plus lineage (ingestion/files/); dbt staging unions them with the operational rows.
FILE_DROP_ENTITIES: tuple[str, ...] = ("artists", "projects", "project_milestones", "bookings")
FILE_META_COLUMNS: dict[str, str] = {"_source_file": "VARCHAR", "_row_number": "BIGINT", "_loaded_at": "TIMESTAMPTZ"}


def file_drop_table_name(entity: str) -> str:
    if entity not in FILE_DROP_ENTITIES:
        raise KeyError(f"not a file-drop entity: {entity}")
    return f"raw_files_{entity}"


# Operational rows validation keeps out of the build (ingestion/operational_quarantine.py): the raw
# tables stay a copy of the source, and dbt staging leaves these rows out (macros/with_file_drops.sql).
OPERATIONAL_QUARANTINE_TABLE = "operational_quarantine"
OPERATIONAL_QUARANTINE_COLUMNS: dict[str, str] = {
    "tenant_id": "VARCHAR NOT NULL", "entity": "VARCHAR NOT NULL", "id": "VARCHAR NOT NULL",
    "column": "VARCHAR NOT NULL", "value": "VARCHAR", "reason": "VARCHAR NOT NULL",
    "quarantined_at": "TIMESTAMPTZ NOT NULL",
}
