{#
  Marts rewritten by month for the tenants whose changed bookings are known row by row
  (row_scope(), macros/tenant_scope.sql): instead of recomputing such a tenant whole, they
  rewrite only the months a changed booking leaves or enters, by service month and by start
  month (int_booking_changes holds the months before the build; int_bookings_enriched, built
  since, the months after). Other changed tenants are recomputed whole, as before.

  changed_bookings(month_columns): the int_bookings_enriched rows such a mart recomputes from, as
  a subquery: every row of the changed tenants recomputed whole, and, for the tenants rewritten
  by month, the rows whose month in one of `month_columns` is a changed month.
  changed_booking_months(by_row): (tenant_id, month) pairs to rewrite, as a subquery.
  in_changed_month(month_expr, by_row): the row's tenant and month are such a pair.
  delete_changed_tenants_or_months(date_column): the pre-hook of such a mart (an `append`
  incremental): the rows of tenants recomputed whole, of tenants gone, and of the changed months
  (the month of `date_column`).
#}

{% macro changed_booking_months(by_row) -%}
    (
        select tenant_id, old_service_month as month from {{ ref('int_booking_changes') }}
        where old_service_month is not null
        union
        select tenant_id, old_start_month from {{ ref('int_booking_changes') }}
        where old_start_month is not null
        union
        select tenant_id, month from (
            select enriched.tenant_id, unnest([enriched.service_month, enriched.start_month]) as month
            from {{ ref('int_bookings_enriched') }} as enriched
            semi join {{ ref('int_booking_changes') }} as changes
                on changes.tenant_id = enriched.tenant_id
                and changes.booking_id = enriched.booking_id
            where {{ in_tenant_list('enriched.tenant_id', by_row) }}
        ) as entered
        where month is not null
    )
{%- endmacro %}


{% macro in_changed_month(tenant_expr, month_expr, by_row) -%}
    exists (
        select 1 from {{ changed_booking_months(by_row) }} as changed_months
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
               and {{ in_changed_month('existing.tenant_id', "cast(date_trunc('month', existing." ~ date_column ~ ") as date)", by_row) }})
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
          and ({% for column in month_columns %}{{ in_changed_month('enriched.tenant_id', 'enriched.' ~ column, by_row) }}{{ ' or ' if not loop.last }}{% endfor %})
        {%- endif %}
    ) as changed_bookings
{%- endmacro %}
