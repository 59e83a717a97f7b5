with source as (

    select * from {{ source('operational', 'audit_log') }}

),

renamed as (

    select
        id as audit_log_id,
        org_id as tenant_id,
        actor_id as actor_user_id,
        action,
        entity,
        entity_id,
        "before" as before_state,
        "after" as after_state,
        "at" as occurred_at
    from source

)

select * from renamed
