with operational as (

    select * from {{ source('operational', 'artists') }}

),

-- rows delivered as file drops; the operational database wins on an id present in both
file_drops as (

    select * exclude (_source_file, _row_number, _loaded_at)
    from {{ source('operational', 'files_artists') }}
    where id not in (select id from operational)

),

source as (

    select * from operational
    union all by name
    select * from file_drops

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
