{#
  dbt-duckdb's create_table_as, plus column compression: a model whose config names
  meta={'uncompressed_columns': [...]} gets its table created with those columns stored
  uncompressed (DuckDB's `USING COMPRESSION uncompressed`), then filled from the model's query.

  Why: a text column holding one distinct value per row (a booking id) gains nothing from DuckDB
  2.0's default string compression (DICT_FSST), which costs about five times the plain write:
  writing the 10M booking ids of int_bookings_enriched took 11.4 CPU s compressed, 2.1 s
  uncompressed (benchmarks/RESULTS.md). Every other column keeps DuckDB's choice.

  The columns and their types come from DuckDB itself (DESCRIBE of the model's query: bound, not
  run), so the table is the one `create table … as` would make. Temporary tables (the batches of
  incremental runs) and models without the setting go through dbt-duckdb's own macro.
#}
{% macro duckdb__create_table_as(temporary, relation, compiled_code, language='sql', partitioned_by=none, sorted_by=none) -%}
  {%- set uncompressed = (config.get('meta') or {}).get('uncompressed_columns') or [] -%}
  {%- set contract = config.get('contract') -%}
  {%- if temporary or language != 'sql' or not uncompressed or not execute
        or partitioned_by or sorted_by or (contract and contract.enforced) -%}
    {{ dbt.duckdb__create_table_as(temporary, relation, compiled_code, language, partitioned_by, sorted_by) }}
  {%- else -%}
    {%- set described = run_query('describe select * from (\n' ~ compiled_code ~ '\n) as model_subq') -%}
    {%- set names = described.columns[0].values() -%}
    {%- set missing = uncompressed | reject('in', names) | list -%}
    {%- if missing -%}
      {{ exceptions.raise_compiler_error("uncompressed_columns not in " ~ this ~ ": " ~ (missing | join(', '))) }}
    {%- endif -%}
    create table {{ relation }} (
      {%- for row in described.rows %}
        {{ adapter.quote(row[0]) }} {{ row[1] }}{% if row[0] in uncompressed %} using compression uncompressed{% endif %}{{ ',' if not loop.last }}
      {%- endfor %}
    );
    insert into {{ relation }} select * from (
      {{ compiled_code }}
    ) as model_subq;
  {%- endif -%}
{%- endmacro %}
