{#
  The as-of date D as a SQL DATE expression.

  `var('as_of')` is a string 'YYYY-MM-DD' (a YAML date is accepted too); unset or empty means
  today in UTC. Anything else is a compilation error, so no arbitrary text reaches the SQL.
#}
{% macro as_of_date() -%}
    {%- set raw = var('as_of', '') -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {%- set text = modules.datetime.datetime.now(modules.datetime.timezone.utc).date().isoformat() -%}
    {%- else -%}
        {%- set text = raw | string | trim -%}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ exceptions.raise_compiler_error("var 'as_of' must be a date 'YYYY-MM-DD', got: " ~ text) }}
    {%- endif -%}
    {#- raises on impossible dates such as 2024-02-30 -#}
    {%- set _ = modules.datetime.date.fromisoformat(text) -%}
    cast('{{ text }}' as date)
{%- endmacro %}
