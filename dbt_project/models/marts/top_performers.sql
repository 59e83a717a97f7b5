{#
  The 10 best artists of each tenant over the 90 days ending on the as-of date D (service dates
  D-89..D): recognized revenue desc, then completed bookings desc, then artist_id asc.
#}

with window_bookings as (

    select *
    from {{ scoped_ref('int_bookings_enriched') }}
    where is_recognized
      and service_date between {{ as_of_date() }} - 89 and {{ as_of_date() }}

),

per_artist as (

    select
        tenant_id,
        artist_id,
        base_currency,
        coalesce(sum(value_base), 0) as recognized_revenue,
        count(*) as completed_bookings
    from window_bookings
    group by tenant_id, artist_id, base_currency

),

ranked as (

    select
        *,
        row_number() over (
            partition by tenant_id
            order by recognized_revenue desc, completed_bookings desc, artist_id asc
        ) as rank
    from per_artist

),

artists as (

    select tenant_id, artist_id, artist_name, stage_name
    from {{ scoped_ref('stg_operational__artists') }}

)

select
    cast(ranked.tenant_id as varchar) as tenant_id,
    cast({{ as_of_date() }} as date) as as_of,
    cast(ranked.rank as integer) as rank,
    cast(ranked.artist_id as varchar) as artist_id,
    cast(artists.artist_name as varchar) as artist_name,
    cast(artists.stage_name as varchar) as stage_name,
    cast(ranked.base_currency as varchar) as base_currency,
    cast(ranked.recognized_revenue as decimal(18, 2)) as recognized_revenue,
    cast(ranked.completed_bookings as bigint) as completed_bookings
from ranked
left join artists
    on artists.tenant_id = ranked.tenant_id
    and artists.artist_id = ranked.artist_id
where ranked.rank <= 10
