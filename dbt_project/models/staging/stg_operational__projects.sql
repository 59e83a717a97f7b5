with operational as (

    select * from {{ source('operational', 'projects') }}

),

-- rows delivered as file drops; the operational database wins on an id present in both
file_drops as (

    select * exclude (_source_file, _row_number, _loaded_at)
    from {{ source('operational', 'files_projects') }}
    where id not in (select id from operational)

),

source as (

    select * from operational
    union all by name
    select * from file_drops

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
