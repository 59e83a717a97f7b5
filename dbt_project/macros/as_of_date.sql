{#
  The as-of date D as a SQL DATE expression.

  `var('as_of')` is a string 'YYYY-MM-DD' (a YAML date is accepted too); unset or empty means
  today in UTC. Anything else is a compilation error, so no arbitrary text reaches the SQL.
#}
{% macro as_of_date() -%}
    {%- set raw = var('as_of', '') -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {%- set text = modules.datetime.datetime.now(modules.pytz.utc).date().isoformat() -%}
    {%- else -%}
        {%- set text = raw | string | trim -%}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ exceptions.raise_compiler_error("var 'as_of' must be a date 'YYYY-MM-DD', got: " ~ text) }}
    {%- endif -%}
    {#- reject impossible dates such as 2024-02-30 (Jinja cannot catch the ValueError) -#}
    {%- set year, month, day = text[0:4] | int, text[5:7] | int, text[8:10] | int -%}
    {%- if month < 1 or month > 12 or year < 1 -%}
        {{ exceptions.raise_compiler_error("var 'as_of' is not a valid date: " ~ text) }}
    {%- endif -%}
    {%- set first_of_next_month = modules.datetime.date(year + (month // 12), month % 12 + 1, 1) -%}
    {%- set days_in_month = (first_of_next_month - modules.datetime.timedelta(days=1)).day -%}
    {%- if day < 1 or day > days_in_month -%}
        {{ exceptions.raise_compiler_error("var 'as_of' is not a valid date: " ~ text) }}
    {%- endif -%}
    cast('{{ text }}' as date)
{%- endmacro %}
