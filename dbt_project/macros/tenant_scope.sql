{#
  A build limited to some tenants: the environment variable AUDITORYX_TENANT_SCOPE lists,
  comma-separated, the tenants whose raw rows changed since the last successful build
  (warehouse/pending.py, set by warehouse/dbt_runner.py; empty or unset: every tenant). The
  incremental models compare, and the models rewritten per tenant (the as-of marts,
  int_projects_enriched, int_tenant_fingerprints) recompute, only those tenants; the data tests
  check only their rows. A build with no scope looks at every tenant.

  It is read at execution time only (`execute`): parsing never sees it, so a new scope does not
  make dbt re-parse the project, as a changed --vars would.

  tenant_scope(): the ids, each checked against a strict pattern before it can reach SQL.
  in_tenant_scope(column): a predicate on `column`, `true` when there is no scope.

  The data tests are compiled once per project and as-of date and run outside dbt's runner
  (warehouse/data_tests.py): compiled with AUDITORYX_TENANT_SCOPE_FROM_VARIABLE set, their scope
  is not written into their SQL but read when they run from the DuckDB variable
  `auditoryx_tenant_scope` (a list of ids, or NULL for every tenant), which DuckDB folds into a
  constant when it plans the statement.
#}
{% macro tenant_scope() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set scope = env_var('AUDITORYX_TENANT_SCOPE', '').split(',') | map('trim') | reject('equalto', '') | list -%}
    {%- for tenant_id in scope -%}
        {%- if not modules.re.fullmatch('[A-Za-z0-9_-]{1,64}', tenant_id) -%}
            {{ exceptions.raise_compiler_error("AUDITORYX_TENANT_SCOPE holds an invalid tenant id: " ~ tenant_id) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(scope) }}
{% endmacro %}


{#
  row_scope(): the tenants of the scope whose changed bookings since the last successful build
  are recorded row by row (AUDITORYX_ROW_SCOPE, same format, set by warehouse/dbt_runner.py from
  warehouse/pending.py's rows_known; the rows are in main.dbt_pending_rows). Every id is also in
  tenant_scope(), which checked it.
  in_tenant_list(column, ids): a predicate on `column`, `false` for an empty list.
#}
{% macro row_scope() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set scope = tenant_scope() -%}
    {%- set rows = env_var('AUDITORYX_ROW_SCOPE', '').split(',') | map('trim') | reject('equalto', '') | list -%}
    {{ return(rows | select('in', scope) | list) }}
{% endmacro %}


{% macro in_tenant_list(column, ids) -%}
    {%- if ids -%}
        {{ column }} in ({% for tenant_id in ids %}'{{ tenant_id }}'{{ ", " if not loop.last }}{% endfor %})
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}


{% macro scope_from_variable() -%}
    {{ return(execute and env_var('AUDITORYX_TENANT_SCOPE_FROM_VARIABLE', '') == '1') }}
{%- endmacro %}


{% macro in_tenant_scope(column) -%}
    {%- set scope = tenant_scope() -%}
    {%- if scope_from_variable() -%}
        (getvariable('auditoryx_tenant_scope') is null or list_contains(getvariable('auditoryx_tenant_scope'), {{ column }}))
    {%- elif scope -%}
        {{ in_tenant_list(column, scope) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#-
  Generic data tests read their model through this macro (dbt's own, extended): in a build
  limited to some tenants, they check those tenants' rows only; the rows of the other tenants did
  not change and passed the same tests before. Relations without a tenant_id column (the var
  `tenant_unscoped_relations`) are always checked whole. The subquery has no alias (DuckDB needs
  none), so that tests can give the model their own (`{{ model }} as child`).
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scoped = (tenant_scope() or scope_from_variable()) and relation.identifier not in var('tenant_unscoped_relations', []) -%}
    {%- if where or scoped -%}
        {%- set filtered -%}
            (select * from {{ relation }}
             where ({{ where or 'true' }}) and {{ in_tenant_scope('tenant_id') if scoped else 'true' }})
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{#-
  `ref(name)` limited to the tenants of the build's scope: the source of the as-of marts that are
  recomputed per tenant (dbt_project.yml, `refreshed_by_tenant`), and of the singular tests that
  check each tenant on its own (tests/). Without a scope, every row.
-#}
{% macro scoped_ref(name) -%}
    (select * from {{ ref(name) }} where {{ in_tenant_scope('tenant_id') }})
{%- endmacro %}


{#- The pre-hook of those marts: remove the scope's tenants (every row without a scope: the
    model then recomputes all tenants, and tenants that left are gone). -#}
{% macro delete_scoped_tenants() %}
    {% if is_incremental() %}
        delete from {{ this }} where {{ in_tenant_scope('tenant_id') }}
    {% endif %}
{% endmacro %}
