{#
  Incremental marts (all-time, not depending on the as-of date D) are rebuilt per tenant: only
  the tenants whose sources changed since the marts were last built.

  tenant_source_fingerprints(): per tenant, a fingerprint of everything those marts read: its
  enriched bookings (count and sum of source_row_hash, which covers the booking columns and the
  base currency), its artists and its organization row.

  int_tenant_changes (upstream of the marts) compares the current fingerprints with the ones
  int_tenant_fingerprints recorded after the marts' last successful build (it runs after them);
  the marts delete and recompute those tenants (delete_changed_tenants() pre-hook, then a
  delete+insert keyed by tenant_id).
#}

{% macro tenant_source_fingerprints() %}
    {#- in a build limited to some tenants (macros/tenant_scope.sql), only theirs -#}
    select
        organizations.tenant_id,
        coalesce(bookings.bookings_count, 0) as bookings_count,
        coalesce(bookings.bookings_hash_sum, 0) as bookings_hash_sum,
        coalesce(artists.artists_count, 0) as artists_count,
        coalesce(artists.artists_hash_sum, 0) as artists_hash_sum,
        organizations.organization_hash
    from (
        select tenant_id, hash(*columns(*)) as organization_hash
        from {{ ref('stg_operational__organizations') }}
        where {{ in_tenant_scope('tenant_id') }}
    ) as organizations
    full outer join (
        select tenant_id, count(*) as bookings_count, sum(source_row_hash) as bookings_hash_sum
        from {{ ref('int_bookings_enriched') }}
        where {{ in_tenant_scope('tenant_id') }}
        group by tenant_id
    ) as bookings
        using (tenant_id)
    full outer join (
        select tenant_id, count(*) as artists_count, sum(hash(*columns(*))) as artists_hash_sum
        from {{ ref('stg_operational__artists') }}
        where {{ in_tenant_scope('tenant_id') }}
        group by tenant_id
    ) as artists
        using (tenant_id)
{% endmacro %}


{#- The pre-hook of an incremental mart: remove the rows of changed tenants (recomputed by the
    model) and of tenants that no longer exist. -#}
{% macro delete_changed_tenants() %}
    {% if is_incremental() %}
        delete from {{ this }}
        where tenant_id in (select tenant_id from {{ ref('int_tenant_changes') }})
           or tenant_id not in (select tenant_id from {{ ref('stg_operational__organizations') }})
    {% endif %}
{% endmacro %}


{#- The filter of an incremental mart's input: only the changed tenants. In a build limited to
    some tenants, the changed ones are among them: the literal list lets DuckDB filter while it
    scans. -#}
{% macro only_changed_tenants(tenant_column='tenant_id') %}
    {%- if is_incremental() -%}
        {{ tenant_column }} in (select tenant_id from {{ ref('int_tenant_changes') }})
        {%- if tenant_scope() %} and {{ in_tenant_scope(tenant_column) }}{% endif %}
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}
