with source as (

    -- operational rows plus file-dropped ones (macros/with_file_drops.sql)
    {{ operational_with_file_drops('project_milestones') }}

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
