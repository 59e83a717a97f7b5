with source as (

    select * from {{ source('operational', 'project_milestones') }}

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
