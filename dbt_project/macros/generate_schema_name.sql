{#
  Custom schemas are used literally: `+schema: marts` builds into schema `marts`, not
  `main_marts`. Models without a custom schema go to the target schema (`main`).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
