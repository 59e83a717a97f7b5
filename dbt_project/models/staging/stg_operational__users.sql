with source as (

    select * from {{ source('operational', 'users') }}

),

renamed as (

    select
        id as user_id,
        org_id as tenant_id,
        email,
        name as user_name,
        role,
        permissions,
        is_active,
        last_login_at,
        created_at,
        updated_at
    from source

)

select * from renamed
