with operational as (

    select * from {{ source('operational', 'bookings') }}

),

-- rows delivered as file drops; the operational database wins on an id present in both
file_drops as (

    select * exclude (_source_file, _row_number, _loaded_at)
    from {{ source('operational', 'files_bookings') }}
    where id not in (select id from operational)

),

source as (

    select * from operational
    union all by name
    select * from file_drops

),

renamed as (

    select
        id as booking_id,
        org_id as tenant_id,
        project_id,
        artist_id,
        client_id as client_user_id,
        created_by_id as created_by_user_id,
        assigned_to_id as assigned_to_user_id,
        title,
        type as booking_type,
        status,
        priority,
        start_date as start_at,
        end_date as end_at,
        duration_minutes,
        timezone,
        location,
        is_remote,
        budget,
        final_price,
        currency,
        payment_status,
        requirements,
        deliverables,
        notes,
        created_at,
        updated_at
    from source

)

select * from renamed
