{#
  Marts rewritten by month for the tenants whose changed bookings are known row by row
  (row_scope(), macros/tenant_scope.sql): instead of recomputing such a tenant whole, they
  rewrite only the months a changed booking leaves or enters, by service month and by start
  month (int_booking_change_months). Other changed tenants are recomputed whole, as before.

  changed_bookings(month_columns): the int_bookings_enriched rows such a mart recomputes from, as
  a subquery: every row of the changed tenants recomputed whole, and, for the tenants rewritten
  by month, the rows whose month in one of `month_columns` is a changed month.
  changed_booking_months(): (tenant_id, month) pairs to rewrite, as a subquery.
  in_changed_month(tenant_expr, month_expr): the row's tenant and month are such a pair.
  delete_changed_tenants_or_months(date_column): the pre-hook of such a mart (an `append`
  incremental): the rows of tenants recomputed whole, of tenants gone, and of the changed months
  (the month of `date_column`).
#}

{% macro changed_booking_months() -%}
    (select tenant_id, month from {{ ref('int_booking_change_months') }})
{%- endmacro %}


{% macro in_changed_month(tenant_expr, month_expr) -%}
    exists (
        select 1 from {{ changed_booking_months() }} as changed_months
        where changed_months.tenant_id = {{ tenant_expr }} and changed_months.month = {{ month_expr }}
    )
{%- endmacro %}


{% macro delete_changed_tenants_or_months(date_column) %}
    {% if is_incremental() %}
        {%- set by_row = row_scope() %}
        delete from {{ this }} as existing
        where (tenant_id in (select tenant_id from {{ ref('int_tenant_changes') }})
               and not {{ in_tenant_list('tenant_id', by_row) }})
           or tenant_id not in (select tenant_id from {{ ref('stg_operational__organizations') }})
        {%- if by_row %}
           or ({{ in_tenant_list('tenant_id', by_row) }}
               and {{ in_changed_month('existing.tenant_id', "cast(date_trunc('month', existing." ~ date_column ~ ") as date)") }})
        {%- endif %}
    {% endif %}
{% endmacro %}


{% macro changed_bookings(month_columns) -%}
    {%- set by_row = row_scope() if is_incremental() else [] -%}
    (
        select * from {{ ref('int_bookings_enriched') }}
        where {{ only_changed_tenants() }}
        {%- if by_row %}
          and not {{ in_tenant_list('tenant_id', by_row) }}

        union all

        select * from {{ ref('int_bookings_enriched') }} as enriched
        where {{ in_tenant_list('enriched.tenant_id', by_row) }}
          and ({% for column in month_columns %}{{ in_changed_month('enriched.tenant_id', 'enriched.' ~ column) }}{{ ' or ' if not loop.last }}{% endfor %})
        {%- endif %}
    ) as changed_bookings
{%- endmacro %}
