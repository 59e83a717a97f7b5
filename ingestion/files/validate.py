"""Validate a dropped file in SQL, quarantine bad rows with reasons, upsert the good ones.

:func:`stage_typed` reads the file (a :class:`~ingestion.files.readers.Source`) once into the temp
table ``_fd_typed``: ``_row_number``, the text value ``r_<col>`` of every contract column and its
typed value ``t_<col>`` (defaults applied; free-text columns are used as they are, without a typed
copy). Each rule below is one SELECT over it producing ``(row_number, column, value, reason)``;
their UNION ALL is ``_fd_problems``. A row with any problem is quarantined (one entry per problem,
counted once); the others are upserted by ``id`` into ``raw_files_<entity>``. Rules, in order:

length limit · required · type · JSON shape · enum · ISO 4217 currency · FX rate (bookings: a
currency the FX seed has no rate for, :mod:`ingestion.fx`) · email · IANA time zone · tenant ·
foreign keys (same tenant) · id owned by another tenant · duplicate id in the file (every
occurrence but the last is quarantined, the last one is validated like any row) · model CHECKs.

Blank (NULL, empty or only whitespace) counts as missing: required → quarantined, model default →
the default, otherwise NULL (free text is stored exactly as written, formula-like text included).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from ingestion.files.readers import Source
from ingestion.files.schema import (
    ISO_4217_CODES,
    KEY_COLUMN,
    LOAD_TIME,
    TENANT_COLUMN,
    ColumnSpec,
    EntitySpec,
    iana_time_zones,
)
from ingestion.files.tables import file_table_columns, file_table_name
from ingestion.fx import fx_currencies
from ingestion.raw_schema import raw_table_name
from operational.models import EMAIL_PATTERN
from warehouse.build_db import quote_identifier

VALUE_LIMIT = 1000   # characters of an offending value kept in the quarantine
REASON_VALUE_LIMIT = 80
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
_TYPE_HINT = {
    "INTEGER": "is not a whole number",
    "BIGINT": "is not a whole number",
    "DATE": "is not a date (YYYY-MM-DD)",
    "TIMESTAMPTZ": "is not a timestamp (ISO 8601, e.g. 2026-05-01T14:00:00Z)",
    "BOOLEAN": "is not a boolean (true/false)",
    "JSON": "is not valid JSON",
}
_ARTICLE = {"artists": "artist", "projects": "project"}
EMAIL_COLUMNS = ("email", "client_email")  # validated with operational.models.validate_email
# entities whose currency must have FX rates (the build converts their amounts; see ingestion/fx.py)
FX_CHECKED_ENTITIES = ("bookings",)


@dataclass(frozen=True)
class LoadCounts:
    rows_read: int
    rows_loaded: int
    rows_quarantined: int


def prepare_session(conn: duckdb.DuckDBPyConnection) -> None:
    """Temp macros and reference tables (ISO 4217 codes, IANA zones) for this connection."""
    ws = "' ' || chr(9) || chr(10) || chr(13)"
    conn.execute(f"CREATE OR REPLACE TEMP MACRO _fd_clean(x) AS trim(x, {ws})")
    # blank = NULL or only whitespace; the ord() test spares the trim for ordinary values
    conn.execute("CREATE OR REPLACE TEMP MACRO _fd_blank(x) AS "
                 "CASE WHEN x IS NULL THEN true WHEN ord(x) > 32 THEN false ELSE _fd_clean(x) = '' END")
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO _fd_q(x) AS '''' || left(x, {REASON_VALUE_LIMIT}) || "
        f"CASE WHEN length(x) > {REASON_VALUE_LIMIT} THEN '…' ELSE '' END || ''''"
    )
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO _fd_cut(x) AS "
        f"CASE WHEN length(x) > {VALUE_LIMIT} THEN left(x, {VALUE_LIMIT}) || '…' ELSE x END"
    )
    conn.execute("CREATE OR REPLACE TEMP TABLE _fd_currencies AS SELECT unnest($codes::VARCHAR[]) AS code",
                 {"codes": sorted(ISO_4217_CODES)})
    conn.execute("CREATE OR REPLACE TEMP TABLE _fd_timezones AS SELECT unnest($zones::VARCHAR[]) AS name",
                 {"zones": iana_time_zones()})
    conn.execute("CREATE OR REPLACE TEMP TABLE _fd_fx_currencies AS SELECT unnest($codes::VARCHAR[]) AS code",
                 {"codes": sorted(fx_currencies())})


def drop_file_temps(conn: duckdb.DuckDBPyConnection) -> None:
    for table in ("_fd_typed", "_fd_rejects", "_fd_problems", "_fd_known_artists", "_fd_known_projects"):
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def cleanup_session(conn: duckdb.DuckDBPyConnection) -> None:
    drop_file_temps(conn)
    for table in ("_fd_currencies", "_fd_timezones", "_fd_fx_currencies"):
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    for macro in ("_fd_q", "_fd_cut", "_fd_blank", "_fd_clean"):
        conn.execute(f"DROP MACRO IF EXISTS temp.{macro}")


def _literal(value) -> str:
    """A SQL literal for a model default (constants from code, never file content)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _passthrough(column: ColumnSpec) -> bool:
    """Free text used exactly as written: no typed copy is made."""
    return (column.sql_type == "VARCHAR" and column.default is None and column.references is None
            and column.name != TENANT_COLUMN)


def typed(column: ColumnSpec) -> str:
    """The ``_fd_typed`` column holding the typed value of ``column``."""
    return f"r_{column.name}" if _passthrough(column) else f"t_{column.name}"


def _typed_expression(column: ColumnSpec) -> str:
    raw = f"s.r_{column.name}"
    sql_type = column.sql_type
    default = "$now" if column.default is LOAD_TIME else _literal(column.default)
    if sql_type == "VARCHAR":
        value = raw
    elif sql_type == "JSON":
        value = f"CASE WHEN json_valid({raw}) THEN {raw} END"
    elif sql_type in ("INTEGER", "BIGINT"):
        # DuckDB would round '12.5' to 13: only whole numbers are integers
        value = f"CASE WHEN regexp_full_match({raw}, '\\s*[+-]?[0-9]+\\s*') THEN TRY_CAST({raw} AS {sql_type}) END"
    elif _DECIMAL.match(sql_type):
        # exact to the column's scale: '1.999' is not silently rounded to 2.00 (float noise below 1e-10 is)
        value = (f"CASE WHEN TRY_CAST({raw} AS DECIMAL(38,10)) = TRY_CAST({raw} AS {sql_type}) "
                 f"THEN TRY_CAST({raw} AS {sql_type}) END")
    elif sql_type == "BOOLEAN":
        value = f"TRY_CAST(_fd_clean({raw}) AS BOOLEAN)"
    else:  # DATE, TIMESTAMPTZ: DuckDB's casts skip surrounding whitespace themselves
        value = f"TRY_CAST({raw} AS {sql_type})"
    return f"CAST(CASE WHEN _fd_blank({raw}) THEN {default} ELSE {value} END AS {sql_type})"


def stage_typed(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, source: Source, now: dt.datetime) -> None:
    """Read the file once into ``temp._fd_typed`` (streaming; DuckDB spills to disk when needed).

    Run it outside the load transaction: a reader error (malformed file) must not abort that.
    """
    rejects = (f'SELECT CAST(row_number AS BIGINT) AS row_number, "column", value, reason FROM {source.rejects_sql}'
               if source.rejects_sql else
               'SELECT CAST(NULL AS BIGINT) AS row_number, CAST(NULL AS VARCHAR) AS "column", '
               "CAST(NULL AS VARCHAR) AS value, CAST(NULL AS VARCHAR) AS reason WHERE false")
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _fd_rejects AS {rejects}",
                 {k: v for k, v in source.params.items() if f"${k}" in rejects})
    raw = ", ".join(f"{source.expressions.get(c, 'CAST(NULL AS VARCHAR)')} AS r_{c}" for c in spec.names)
    typed_columns = "".join(f", {_typed_expression(c)} AS t_{c.name}" for c in spec.columns
                            if not _passthrough(c) and c.name != TENANT_COLUMN)
    # row_number() OVER () streams in scan order (preserve_insertion_order is on during ingestion)
    sql = (f"CREATE OR REPLACE TEMP TABLE _fd_typed AS "
           f"WITH s AS (SELECT CAST({source.row_number} AS BIGINT) AS _row_number, {raw} FROM {source.from_sql}) "
           f"SELECT s.*{typed_columns} FROM s")
    conn.execute(sql, {k: v for k, v in {**source.params, "now": now}.items() if f"${k}" in sql})


class _Rules:
    """Collects the problem SELECTs of one entity with their bound parameters."""

    def __init__(self) -> None:
        self.selects: list[str] = []
        self.params: dict[str, object] = {}

    def add(self, column: str, where: str, reason: str, source: str = "_fd_typed t") -> None:
        number = len(self.selects)
        self.selects.append(
            f"SELECT t._row_number AS row_number, {number} AS rule, '{column}' AS \"column\", "
            f"t.r_{column} AS value, {reason} AS reason FROM {source} WHERE {where}"
        )

    def param(self, name: str, value: object) -> str:
        self.params[name] = value
        return f"${name}"


def _column_rules(rules: _Rules, column: ColumnSpec, max_field_chars: int, tenant_slug: str) -> None:
    name = column.name
    raw, value = f"t.r_{name}", f"t.{typed(column)}"
    present = f"NOT _fd_blank({raw})"
    limit = column.max_length or max_field_chars
    if not column.allowed and name != "currency":  # those have stricter value rules below
        rules.add(name, f"length({raw}) > {limit}",
                  f"'{name} is ' || length({raw}) || ' characters long; the limit is {limit}'")
    if column.required:
        rules.add(name, f"_fd_blank({raw})", f"'{name} is required but empty'")
    if name == TENANT_COLUMN:
        slug = rules.param("slug", tenant_slug)
        rules.add(name, f"{present} AND {raw} <> $tenant",
                  f"'{name} ' || _fd_q({raw}) || ' is not the tenant of this folder (' || {slug} || ')'")
        return
    decimal = _DECIMAL.match(column.sql_type)
    if decimal:
        precision, scale = decimal.groups()
        rules.add(name, f"{present} AND {value} IS NULL",
                  f"CASE WHEN TRY_CAST({raw} AS {column.sql_type}) IS NOT NULL "
                  f"THEN '{name} ' || _fd_q({raw}) || ' has more than {scale} decimal places' "
                  f"ELSE '{name} ' || _fd_q({raw}) || ' is not a number with at most "
                  f"{int(precision) - int(scale)} digits before the decimal point' END")
    elif column.sql_type in _TYPE_HINT:
        rules.add(name, f"{present} AND {value} IS NULL",
                  f"'{name} ' || _fd_q({raw}) || ' {_TYPE_HINT[column.sql_type]}'")
    if column.json_shape:
        rules.add(name, f"{value} IS NOT NULL AND json_type({value}) <> '{column.json_shape}'",
                  f"'{name} must be a JSON {column.json_shape.lower()}, not ' || _fd_q({raw})")
    if column.allowed:
        allowed = rules.param(f"allowed_{name}", list(column.allowed))
        rules.add(name, f"{present} AND NOT list_contains({allowed}::VARCHAR[], {value})",
                  f"'{name} ' || _fd_q({raw}) || ' is not one of ' || array_to_string({allowed}::VARCHAR[], ', ')")
    if name == "currency":
        rules.add(name, f"{present} AND {value} NOT IN (SELECT code FROM _fd_currencies)",
                  f"'currency ' || _fd_q({raw}) || ' is not an ISO 4217 code'")
    if name in EMAIL_COLUMNS:
        pattern = rules.param("email_pattern", EMAIL_PATTERN.pattern)
        rules.add(name, f"{present} AND NOT regexp_full_match({value}, {pattern})",
                  f"'{name} ' || _fd_q({raw}) || ' is not a valid email address'")
    if name == "timezone":
        rules.add(name, f"{present} AND {value} NOT IN (SELECT name FROM _fd_timezones)",
                  f"'timezone ' || _fd_q({raw}) || ' is not an IANA time zone'")
    if column.references:
        known = f"_fd_known_{column.references}"
        rules.add(name, present,
                  f"'{name} ' || _fd_q({raw}) || ' is not a known {_ARTICLE[column.references]} of this tenant'",
                  source=f"_fd_typed t ANTI JOIN {known} k ON k.id = {value}")


def _fx_rule(rules: _Rules, column: ColumnSpec) -> None:
    """A valid ISO 4217 code without rates in the FX seed: the build could not convert the row."""
    raw, value = f"t.r_{column.name}", f"t.{typed(column)}"
    rules.add(column.name, f"NOT _fd_blank({raw}) AND {value} IN (SELECT code FROM _fd_currencies) "
                           f"AND {value} NOT IN (SELECT code FROM _fd_fx_currencies)",
              f"'currency ' || _fd_q({raw}) || ' has no FX rate (not in the FX seed): "
              "its amounts cannot be converted'")


def _key_rules(rules: _Rules, spec: EntitySpec, tenant_id: str) -> None:
    key = KEY_COLUMN
    tenant = rules.param("tenant", tenant_id)
    others = (f"(SELECT id FROM {file_table_name(spec.entity)} WHERE org_id <> {tenant} "
              f"UNION ALL SELECT id FROM {raw_table_name(spec.entity)} WHERE org_id <> {tenant})")
    rules.add(key, f"NOT _fd_blank(t.r_{key})",
              f"'{key} ' || _fd_q(t.r_{key}) || ' already belongs to another tenant'",
              source=f"_fd_typed t SEMI JOIN {others} o ON o.id = t.r_{key}")
    duplicates = (f"(SELECT r_{key} AS dup_key, max(_row_number) AS last_row FROM _fd_typed "
                  f"WHERE NOT _fd_blank(r_{key}) GROUP BY r_{key} HAVING count(*) > 1)")
    rules.add(key, "t._row_number < d.last_row",
              f"'duplicate {key} ' || _fd_q(t.r_{key}) || ' in this file: superseded by row ' || d.last_row",
              source=f"_fd_typed t JOIN {duplicates} d ON d.dup_key = t.r_{key}")


def _known_keys(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, tenant_id: str) -> None:
    """Ids the rows may reference: the tenant's rows from the operational DB and from earlier drops."""
    for referenced in sorted({c.references for c in spec.columns if c.references}):
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE _fd_known_{referenced} AS "
            f"SELECT id FROM {raw_table_name(referenced)} WHERE org_id = $tenant AND id IS NOT NULL "
            f"UNION SELECT id FROM {file_table_name(referenced)} WHERE org_id = $tenant AND id IS NOT NULL",
            {"tenant": tenant_id},
        )


def validate_and_load(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, *, tenant_id: str, tenant_slug: str,
                      file: str, checksum: str, run_id: str, now: dt.datetime, max_field_chars: int) -> LoadCounts:
    """Quarantine the rows of ``_fd_typed`` that break a rule, upsert the rest (inside a transaction)."""
    _known_keys(conn, spec, tenant_id)
    rules = _Rules()
    rules.param("tenant", tenant_id)
    for column in spec.columns:
        _column_rules(rules, column, max_field_chars, tenant_slug)
    if spec.entity in FX_CHECKED_ENTITIES:
        _fx_rule(rules, spec.column("currency"))
    _key_rules(rules, spec, tenant_id)
    for check in spec.checks:
        rules.add(check.column, check.violated, check.reason)
    # records the reader could not use (salvaged CSV) are quarantined like any bad row
    rules.selects.append('SELECT row_number, -1 AS rule, "column", value, reason FROM _fd_rejects')
    conn.execute("CREATE OR REPLACE TEMP TABLE _fd_problems AS " + " UNION ALL ".join(rules.selects), rules.params)

    conn.execute(
        'INSERT INTO quarantine (tenant_id, entity, file, checksum, row_number, "column", value, reason, '
        "quarantined_at, run_id) "
        'SELECT $tenant, $entity, $file, $checksum, row_number, "column", _fd_cut(value), reason, $now, $run_id '
        "FROM _fd_problems ORDER BY row_number, rule",
        {"tenant": tenant_id, "entity": spec.entity, "file": file, "checksum": checksum, "now": now, "run_id": run_id},
    )
    rows_read = conn.execute("SELECT (SELECT count(*) FROM _fd_typed) + "
                             "(SELECT count(DISTINCT row_number) FROM _fd_rejects)").fetchone()[0]
    quarantined = conn.execute("SELECT count(DISTINCT row_number) FROM _fd_problems").fetchone()[0]

    target = file_table_name(spec.entity)
    good = "_fd_typed t ANTI JOIN _fd_problems p ON p.row_number = t._row_number"
    key = typed(spec.column(KEY_COLUMN))
    conn.execute(
        f"DELETE FROM {target} WHERE org_id = $tenant AND id IN (SELECT t.{key} FROM {good})",
        {"tenant": tenant_id},
    )
    names = list(file_table_columns(spec.entity))
    values = ["$tenant" if c.name == TENANT_COLUMN else f"t.{typed(c)}" for c in spec.columns]
    values += ["$file", "t._row_number", "$now"]
    inserted = conn.execute(
        f"INSERT INTO {target} ({', '.join(quote_identifier(n) for n in names)}) "
        f"SELECT {', '.join(values)} FROM {good}",
        {"tenant": tenant_id, "file": file, "now": now},
    ).fetchone()[0]
    if rows_read != inserted + quarantined:
        raise RuntimeError(f"reconciliation failed: read {rows_read} rows, "
                           f"loaded {inserted}, quarantined {quarantined}")
    return LoadCounts(rows_read=rows_read, rows_loaded=inserted, rows_quarantined=quarantined)
