{#
  Model-level generic test: no two rows share the same values of `combination_of_columns`
  (the composite grain of a model). Fails with one row per duplicated combination.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns_csv = combination_of_columns | join(', ') -%}
    select {{ columns_csv }}, count(*) as duplicate_rows
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1
{% endtest %}
