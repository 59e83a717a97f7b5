with source as (

    select * from {{ source('operational', 'organizations') }}

),

renamed as (

    select
        id as tenant_id,
        name as organization_name,
        slug,
        type as organization_type,
        plan,
        custom_domain,
        branding,
        settings,
        coalesce(
            nullif(upper(trim(json_extract_string(settings, '$.base_currency'))), ''),
            'USD'
        ) as base_currency,
        is_active,
        created_at,
        updated_at
    from source

)

select * from renamed
