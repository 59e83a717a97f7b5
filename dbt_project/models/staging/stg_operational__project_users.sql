with source as (

    select * from {{ source('operational', 'project_users') }}

),

renamed as (

    select
        id as project_user_id,
        org_id as tenant_id,
        project_id,
        user_id,
        role as project_role,
        created_at,
        updated_at
    from source

)

select * from renamed
