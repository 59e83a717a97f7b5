{#
  Like `relationships`, but the parent must belong to the same tenant: every non-null
  `column_name` of `model` must exist as `field` in `to` with the same `tenant_id`.
  Catches a booking of one tenant pointing at another tenant's artist.
#}
{% test relationships_within_tenant(model, column_name, to, field) %}
    select child.tenant_id, child.{{ column_name }}
    from {{ model }} as child
    left join {{ to }} as parent
        on parent.tenant_id = child.tenant_id
        and parent.{{ field }} = child.{{ column_name }}
    where child.{{ column_name }} is not null
      and parent.{{ field }} is null
{% endtest %}
