with source as (

    -- operational rows plus file-dropped ones (macros/with_file_drops.sql)
    {{ operational_with_file_drops('artists') }}

),

renamed as (

    select
        id as artist_id,
        org_id as tenant_id,
        user_id,
        name as artist_name,
        stage_name,
        email,
        phone,
        genres,
        skills,
        bio,
        avatar_url,
        social_links,
        verification_status,
        rating,
        total_bookings,
        total_earnings,
        is_active,
        created_at,
        updated_at
    from source

)

select * from renamed
