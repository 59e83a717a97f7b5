{#
  Every non-null value of the column is >= 0 (counts and amounts that can only add up).
#}
{% test non_negative(model, column_name) %}
    select {{ column_name }}{{ with_tenant(model, column_name) }}
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}
