{#
  Bookings of each tenant by status, in funnel order: DRAFT → PENDING_APPROVAL → APPROVED →
  CONFIRMED → IN_PROGRESS → COMPLETED (stages 1-6), then the exits CANCELLED (7) and DISPUTE (8).
  Two windows: bookings whose local start date is in D-89..D (90 days), and all bookings.
  Unlike the booking-volume marts, DRAFT is shown (it is the funnel's first stage).
  Every tenant has all 8 rows (zeros).
#}

{% set as_of = as_of_date() %}

with stages as (

    select * from (
        values
            ('DRAFT', 1, true),
            ('PENDING_APPROVAL', 2, true),
            ('APPROVED', 3, true),
            ('CONFIRMED', 4, true),
            ('IN_PROGRESS', 5, true),
            ('COMPLETED', 6, true),
            ('CANCELLED', 7, false),
            ('DISPUTE', 8, false)
    ) as stages (status, stage_order, is_funnel_stage)

),

organizations as (

    select tenant_id
    from {{ scoped_ref('stg_operational__organizations') }}

),

counts as (

    select
        tenant_id,
        status,
        count(*) filter (
            where start_local_date between {{ as_of }} - 89 and {{ as_of }}
        ) as bookings_90d,
        count(*) as bookings_all_time
    from {{ scoped_ref('int_bookings_enriched') }}
    group by tenant_id, status

)

select
    cast(organizations.tenant_id as varchar) as tenant_id,
    cast({{ as_of }} as date) as as_of,
    cast(stages.stage_order as integer) as stage_order,
    cast(stages.status as varchar) as status,
    cast(stages.is_funnel_stage as boolean) as is_funnel_stage,
    cast(coalesce(counts.bookings_90d, 0) as bigint) as bookings_90d,
    cast(coalesce(counts.bookings_all_time, 0) as bigint) as bookings_all_time
from organizations
cross join stages
left join counts
    on counts.tenant_id = organizations.tenant_id
    and counts.status = stages.status
