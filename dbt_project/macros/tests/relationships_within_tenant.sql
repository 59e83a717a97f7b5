{#
  Like `relationships`, but the parent must belong to the same tenant: every non-null
  `column_name` of `model` must exist as `field` in `to` with the same `tenant_id`.
  Catches a booking of one tenant pointing at another tenant's artist. In a build limited to
  some tenants, the child rows are theirs (get_where_subquery), and so are the parents to look
  at (macros/tenant_scope.sql).
#}
{% test relationships_within_tenant(model, column_name, to, field) %}
    select child.tenant_id, child.{{ column_name }}
    from {{ model }} as child
    left join (select * from {{ to }} where {{ in_tenant_scope('tenant_id') }}) as parent
        on parent.tenant_id = child.tenant_id
        and parent.{{ field }} = child.{{ column_name }}
    where child.{{ column_name }} is not null
      and parent.{{ field }} is null
{% endtest %}
