{#
  Data tests name the tenant of each failing row (a `tenant_id` column) whenever the tested
  relation has one, so that warehouse/dbt_runner.py fails only those tenants and publishes the
  others. The generic tests dbt ships (not_null, unique, accepted_values, relationships) are
  overridden here with the same logic plus that column; this project's own generic tests
  (macros/tests/) add it the same way.

  with_tenant(model, column_name): ", tenant_id" to add to a select list, or "" when the relation
  has no tenant_id (the var `tenant_unscoped_relations`) or when the tested column is tenant_id
  itself. A scoped model is a subquery string (get_where_subquery in macros/tenant_scope.sql): it
  only ever is for relations with a tenant_id.
#}
{% macro has_tenant_column(model) -%}
    {%- if model is string -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(model.identifier not in var('tenant_unscoped_relations', [])) }}
{%- endmacro %}


{% macro with_tenant(model, column_name=none) -%}
    {%- if has_tenant_column(model) and column_name != 'tenant_id' -%}, tenant_id{%- endif -%}
{%- endmacro %}


{% macro default__test_not_null(model, column_name) %}
select {{ column_name }}{{ with_tenant(model, column_name) }}
from {{ model }}
where {{ column_name }} is null
{% endmacro %}


{% macro default__test_unique(model, column_name) %}
{%- if has_tenant_column(model) and column_name != 'tenant_id' %}
-- one row per duplicated value and tenant holding it (a value shared by two tenants fails both);
-- the tenants are looked up for the duplicated values only (collecting them for every value costs
-- ten times the count)
select duplicated.unique_field, duplicated.n_records, tested.tenant_id
from (
    select {{ column_name }} as unique_field, count(*) as n_records
    from {{ model }}
    where {{ column_name }} is not null
    group by {{ column_name }}
    having count(*) > 1
) as duplicated
join {{ model }} as tested on tested.{{ column_name }} = duplicated.unique_field
group by all
{%- else %}
select {{ column_name }} as unique_field, count(*) as n_records{{ ', ' ~ column_name ~ ' as tenant_id' if column_name == 'tenant_id' }}
from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1
{%- endif %}
{% endmacro %}


{% macro default__test_accepted_values(model, column_name, values, quote=True) %}
with all_values as (

    select
        {{ column_name }} as value_field{{ with_tenant(model, column_name) }},
        count(*) as n_records
    from {{ model }}
    group by all

)

select *
from all_values
where value_field not in (
    {% for value in values -%}
        {% if quote -%}
        '{{ value }}'
        {%- else -%}
        {{ value }}
        {%- endif -%}
        {%- if not loop.last -%},{%- endif %}
    {%- endfor %}
)
{% endmacro %}


{% macro default__test_relationships(model, column_name, to, field) %}
with child as (
    select {{ column_name }} as from_field{{ with_tenant(model, column_name) }}{{ ', ' ~ column_name ~ ' as tenant_id' if column_name == 'tenant_id' }}
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
)

select child.*
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null
{% endmacro %}
