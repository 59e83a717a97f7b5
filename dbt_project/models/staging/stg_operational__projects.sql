with source as (

    -- operational rows plus file-dropped ones (macros/with_file_drops.sql)
    {{ operational_with_file_drops('projects') }}

),

renamed as (

    select
        id as project_id,
        org_id as tenant_id,
        name as project_name,
        description,
        type as project_type,
        status,
        priority,
        start_date,
        end_date,
        deadline,
        budget,
        spent,
        currency,
        client_name,
        client_email,
        created_by_id as created_by_user_id,
        created_at,
        updated_at
    from source

)

select * from renamed
