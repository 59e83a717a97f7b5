{#
  The rows of one operational entity: the operational table, plus the validated rows tenants
  delivered as file drops (ingestion/files/) whose id the operational database does not have
  (on an id present in both, the operational database wins). Lineage columns are dropped.
  Operational rows validation quarantined before the build (a booking in a currency without FX
  rates: ingestion/operational_quarantine.py) are left out.

  `not exists` rather than `id not in (select id …)`: DuckDB plans the latter as a hash of every
  operational id (10M on a large platform) built on each read of the view, ~1 s per test query;
  the correlated form becomes an anti join that costs next to nothing when few files were dropped.
#}
{% macro operational_with_file_drops(entity) %}
    select * from {{ source('operational', entity) }} as kept
    where not exists (
        select 1 from {{ source('operational', 'quarantine') }} as quarantined
        where quarantined.entity = '{{ entity }}' and quarantined.id = kept.id
    )
    union all by name
    select * exclude (_source_file, _row_number, _loaded_at)
    from {{ source('operational', 'files_' ~ entity) }} as dropped
    where not exists (
        select 1 from {{ source('operational', entity) }} as operational
        where operational.id = dropped.id
    )
{% endmacro %}
