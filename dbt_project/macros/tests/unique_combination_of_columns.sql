{#
  Model-level generic test: no two rows share the same values of `combination_of_columns`
  (the composite grain of a model). Fails with one row per duplicated combination.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns_csv = combination_of_columns | join(', ') -%}
    {%- set per_tenant = has_tenant_column(model) and 'tenant_id' not in combination_of_columns -%}
    {%- if per_tenant %}
    -- one row per duplicated combination and tenant holding it (macros/tests/tenant_columns.sql)
    select * exclude (tenants), unnest(tenants) as tenant_id
    from (
        select {{ columns_csv }}, count(*) as duplicate_rows, list(distinct tenant_id) as tenants
        from {{ model }}
        group by {{ columns_csv }}
        having count(*) > 1
    ) as duplicated
    {%- else %}
    select {{ columns_csv }}, count(*) as duplicate_rows
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1
    {%- endif %}
{% endtest %}
