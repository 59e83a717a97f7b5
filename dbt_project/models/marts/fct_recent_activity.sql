{#
  The 50 latest audit-log entries of each tenant up to the as-of date D (entries stamped after
  the end of D in UTC are left out, so a snapshot as of a past date is reproducible), with the
  actor's name and a one-line summary for the dashboard's "what changed" panel.
  Actor: the user of the same tenant; 'System' when the entry has no actor, 'Unknown user' when
  the actor is not a user of the tenant (deleted, or another organization's). The entity is
  named by the entry's own title or name, else its current one (artists, projects, milestones,
  users), else the latest one the audit log recorded for it, else the one it had before, else the
  start of its id.
#}

{% set as_of = as_of_date() %}

with entries as (

    select *
    from {{ scoped_ref('stg_operational__audit_log') }}
    where occurred_at < cast({{ as_of }} + 1 as timestamptz)

),

latest as (

    select
        *,
        row_number() over (
            partition by tenant_id
            order by occurred_at desc, audit_log_id desc
        ) as recency_rank
    from entries
    qualify recency_rank <= 50

),

users as (

    select tenant_id, user_id, user_name, email
    from {{ scoped_ref('stg_operational__users') }}

),

-- names for the entities these entries are about (an update entry only carries the changed
-- fields): the current name of artists, projects, milestones and users, and for any entity the
-- latest title or name the audit log itself recorded (bookings: reading 10M titles is not worth it)
current_names as (

    select 'artists' as entity, tenant_id, artist_id as entity_id, coalesce(stage_name, artist_name) as label
    from {{ scoped_ref('stg_operational__artists') }}
    union all
    select 'projects', tenant_id, project_id, project_name
    from {{ scoped_ref('stg_operational__projects') }}
    union all
    select 'project_milestones', tenant_id, milestone_id, title
    from {{ scoped_ref('stg_operational__project_milestones') }}
    union all
    select 'users', tenant_id, user_id, user_name
    from {{ scoped_ref('stg_operational__users') }}

),

logged_names as (

    select
        entity,
        tenant_id,
        entity_id,
        arg_max(label, occurred_at) as label
    from (
        select
            entity,
            tenant_id,
            entity_id,
            occurred_at,
            coalesce(
                json_extract_string(after_state, '$.title'),
                json_extract_string(after_state, '$.name')
            ) as label
        from entries
        where entity_id in (select entity_id from latest)
    ) as named
    where label is not null
    group by entity, tenant_id, entity_id

),

described as (

    select
        latest.*,
        case
            when latest.actor_user_id is null then 'System'
            else coalesce(nullif(trim(users.user_name), ''), users.email, 'Unknown user')
        end as actor_name,
        case lower(latest.action)
            when 'create' then 'created'
            when 'update' then 'updated'
            when 'delete' then 'deleted'
            else lower(latest.action)
        end as verb,
        case latest.entity
            when 'bookings' then 'booking'
            when 'artists' then 'artist'
            when 'projects' then 'project'
            when 'project_milestones' then 'milestone'
            when 'project_users' then 'project member'
            when 'users' then 'user'
            when 'organizations' then 'organization'
            else replace(latest.entity, '_', ' ')
        end as noun,
        coalesce(
            json_extract_string(latest.after_state, '$.title'),
            json_extract_string(latest.after_state, '$.name'),
            current_names.label,
            logged_names.label,
            json_extract_string(latest.before_state, '$.title'),
            json_extract_string(latest.before_state, '$.name')
        ) as label,
        list_sort(json_keys(latest.after_state)) as changed_fields,
        json_extract_string(latest.before_state, '$.status') as status_before,
        json_extract_string(latest.after_state, '$.status') as status_after
    from latest
    left join users
        on users.tenant_id = latest.tenant_id
        and users.user_id = latest.actor_user_id
    left join current_names
        on current_names.entity = latest.entity
        and current_names.tenant_id = latest.tenant_id
        and current_names.entity_id = latest.entity_id
    left join logged_names
        on logged_names.entity = latest.entity
        and logged_names.tenant_id = latest.tenant_id
        and logged_names.entity_id = latest.entity_id

),

summarized as (

    select
        *,
        actor_name || ' ' || verb || ' ' || noun
            || coalesce(' "' || label || '"', ' ' || left(entity_id, 8), '')
            || case
                when lower(action) = 'update' and status_after is not null
                    then ': status ' || coalesce(status_before, '?') || ' → ' || status_after
                        || case
                            when len(changed_fields) > 1
                                then ' (+' || (len(changed_fields) - 1) || ' more)'
                            else ''
                        end
                when lower(action) = 'update' and len(changed_fields) > 0
                    then ': ' || array_to_string(changed_fields, ', ')
                else ''
            end as full_summary
    from described

)

select
    cast(tenant_id as varchar) as tenant_id,
    cast({{ as_of }} as date) as as_of,
    cast(recency_rank as integer) as recency_rank,
    cast(audit_log_id as varchar) as audit_log_id,
    cast(occurred_at as timestamptz) as occurred_at,
    cast(actor_user_id as varchar) as actor_user_id,
    cast(actor_name as varchar) as actor_name,
    cast(action as varchar) as action,
    cast(entity as varchar) as entity,
    cast(entity_id as varchar) as entity_id,
    cast(
        case
            when length(full_summary) > 160 then left(full_summary, 159) || '…'
            else full_summary
        end as varchar
    ) as summary
from summarized
