{#
  The tenants whose sources changed since the incremental marts were last built (see
  macros/tenant_changes.sql): their current fingerprint differs from the one recorded in
  int_tenant_fingerprints, or one side has none (new or removed tenant). With no record yet,
  every tenant.

  In a build limited to some tenants (macros/tenant_scope.sql), only theirs are compared: the
  sources of the others did not change since the last successful build.
  int_tenant_fingerprints is read by name, not with ref(): it is built after the marts (which
  depend on this model) so that it records what they were built from.
#}

{%- set recorded = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_tenant_fingerprints') -%}

with current_fingerprints as (

    {{ tenant_source_fingerprints() }}

)

{% if recorded is none %}

select tenant_id, 'no record' as reason
from current_fingerprints

{% else %}

select
    coalesce(current_fingerprints.tenant_id, recorded.tenant_id) as tenant_id,
    case
        when recorded.tenant_id is null then 'new'
        when current_fingerprints.tenant_id is null then 'removed'
        else 'changed'
    end as reason
from current_fingerprints
full outer join (select * from {{ recorded }} where {{ in_tenant_scope('tenant_id') }}) as recorded
    on recorded.tenant_id = current_fingerprints.tenant_id
where current_fingerprints.tenant_id is null
   or recorded.tenant_id is null
   or current_fingerprints.bookings_count <> recorded.bookings_count
   or current_fingerprints.bookings_hash_sum <> recorded.bookings_hash_sum
   or current_fingerprints.artists_count <> recorded.artists_count
   or current_fingerprints.artists_hash_sum <> recorded.artists_hash_sum
   or current_fingerprints.organization_hash is distinct from recorded.organization_hash

{% endif %}
