{#
  Every non-null value of the column is a time zone name DuckDB (ICU) knows.
#}
{% test is_iana_timezone(model, column_name) %}
    select {{ column_name }}{{ with_tenant(model, column_name) }}
    from {{ model }}
    where {{ column_name }} is not null
      and {{ column_name }} not in (select name from pg_timezone_names())
{% endtest %}
