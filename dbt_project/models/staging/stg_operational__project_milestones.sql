with operational as (

    select * from {{ source('operational', 'project_milestones') }}

),

-- rows delivered as file drops; the operational database wins on an id present in both
file_drops as (

    select * exclude (_source_file, _row_number, _loaded_at)
    from {{ source('operational', 'files_project_milestones') }}
    where id not in (select id from operational)

),

source as (

    select * from operational
    union all by name
    select * from file_drops

),

renamed as (

    select
        id as milestone_id,
        org_id as tenant_id,
        project_id,
        title,
        description,
        due_date,
        status,
        sort_order,
        completed_at,
        created_at,
        updated_at
    from source

)

select * from renamed
