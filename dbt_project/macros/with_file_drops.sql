{#
  The rows of one operational entity: the operational table, plus the validated rows tenants
  delivered as file drops (ingestion/files/) whose id the operational database does not have
  (on an id present in both, the operational database wins). Lineage columns are dropped.
#}
{% macro operational_with_file_drops(entity) %}
    select * from {{ source('operational', entity) }}
    union all by name
    select * exclude (_source_file, _row_number, _loaded_at)
    from {{ source('operational', 'files_' ~ entity) }}
    where id not in (select id from {{ source('operational', entity) }})
{% endmacro %}
