with source as (

    -- operational rows plus file-dropped ones (macros/with_file_drops.sql)
    {{ operational_with_file_drops('bookings') }}

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
