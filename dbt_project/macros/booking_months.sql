{#
  Marts rewritten by month for the tenants whose changed bookings are known row by row
  (row_scope(), macros/tenant_scope.sql): instead of recomputing such a tenant whole, they
  rewrite only the months a changed booking leaves or enters, by service month and by start
  month (int_booking_change_months). Other changed tenants are recomputed whole, as before.

  changed_bookings(month_columns): the int_bookings_enriched rows such a mart recomputes from, as
  a subquery: every row of the changed tenants recomputed whole, and, for the tenants rewritten
  by month, the rows whose month in one of `month_columns` is a changed month.
  in_changed_month(tenant_expr, month_exprs): the row's tenant and one of its months form a
  changed (tenant, month) pair. The pairs are read once the build has computed them and written
  into the statement as literals, which DuckDB applies while scanning (a correlated semi join
  under OR cost ~2 s on a 7.6M-row mart). There are at most a few per changed booking and never
  more than the scope's tenants (≤ 200) × their months. Literal tenant ids are the checked ones
  of row_scope(); months are dates read from the table.
  The pre-hooks of such a mart (an `append` incremental), two statements:
  delete_tenants_recomputed_whole(): rows of the changed tenants not rewritten by month, and of
  tenants gone; delete_changed_months(date_column): rows of the changed months (the month of
  `date_column`).
#}

{% macro changed_month_pairs() %}
    {#- tenant → [months, as YYYY-MM-DD], for the tenants of row_scope() -#}
    {%- set by_row = row_scope() -%}
    {%- if not execute or not by_row -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set rows = run_query("select tenant_id, month from " ~ ref('int_booking_change_months') ~ " order by 1, 2").rows -%}
    {%- set pairs = {} -%}
    {%- for row in rows if row[0] in by_row -%}
        {%- do pairs.setdefault(row[0], []).append(row[1].strftime('%Y-%m-%d')) -%}
    {%- endfor -%}
    {{ return(pairs) }}
{% endmacro %}


{% macro in_changed_month(tenant_expr, month_exprs) -%}
    {%- set pairs = changed_month_pairs() -%}
    {%- if not pairs -%}
        false
    {%- else -%}
        ({% for tenant_id, months in pairs.items() -%}
            ({{ tenant_expr }} = '{{ tenant_id }}' and ({% for month in month_exprs %}{{ month }} in ({% for day in months %}date '{{ day }}'{{ ', ' if not loop.last }}{% endfor %}){{ ' or ' if not loop.last }}{% endfor %}))
            {{- ' or ' if not loop.last }}
        {%- endfor %})
    {%- endif -%}
{%- endmacro %}


{% macro delete_tenants_recomputed_whole() %}
    {% if is_incremental() %}
        delete from {{ this }}
        where (tenant_id in (select tenant_id from {{ ref('int_tenant_changes') }})
               and not {{ in_tenant_list('tenant_id', row_scope()) }})
           or tenant_id not in (select tenant_id from {{ ref('stg_operational__organizations') }})
    {% endif %}
{% endmacro %}


{% macro delete_changed_months(date_column) %}
    {% if is_incremental() and row_scope() %}
        delete from {{ this }}
        where {{ in_tenant_list('tenant_id', row_scope()) }}
          and {{ in_changed_month('tenant_id', ["cast(date_trunc('month', " ~ date_column ~ ") as date)"]) }}
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

        select * from {{ ref('int_bookings_enriched') }}
        where {{ in_tenant_list('tenant_id', by_row) }}
          and {{ in_changed_month('tenant_id', month_columns) }}
        {%- endif %}
    ) as changed_bookings
{%- endmacro %}
