{#
  Outstanding bookings (COMPLETED, payment PENDING or PARTIAL) of each tenant by days since
  their service date, as of D: 0-30, 31-60, 61-90 and 90+ (more than 90) days. A service date
  after D (not yet due) counts in 0-30. Every tenant has the 4 buckets (zeros). The buckets add
  up to kpi_summary.outstanding_revenue.
#}

{% set as_of = as_of_date() %}

with buckets as (

    select * from (
        values
            (1, '0-30', null, 30),
            (2, '31-60', 31, 60),
            (3, '61-90', 61, 90),
            (4, '90+', 91, null)
    ) as buckets (bucket_order, aging_bucket, min_days, max_days)

),

organizations as (

    select tenant_id, base_currency
    from {{ scoped_ref('stg_operational__organizations') }}

),

outstanding as (

    select
        tenant_id,
        case
            when {{ as_of }} - service_date <= 30 then 1
            when {{ as_of }} - service_date <= 60 then 2
            when {{ as_of }} - service_date <= 90 then 3
            else 4
        end as bucket_order,
        value_base
    from {{ scoped_ref('int_bookings_enriched') }}
    where is_outstanding

),

per_bucket as (

    select
        tenant_id,
        bucket_order,
        count(*) as outstanding_bookings,
        coalesce(sum(value_base), 0) as outstanding_revenue
    from outstanding
    group by tenant_id, bucket_order

)

select
    cast(organizations.tenant_id as varchar) as tenant_id,
    cast({{ as_of }} as date) as as_of,
    cast(buckets.bucket_order as integer) as bucket_order,
    cast(buckets.aging_bucket as varchar) as aging_bucket,
    cast(buckets.min_days as integer) as min_days,
    cast(buckets.max_days as integer) as max_days,
    cast(organizations.base_currency as varchar) as base_currency,
    cast(coalesce(per_bucket.outstanding_bookings, 0) as bigint) as outstanding_bookings,
    cast(coalesce(per_bucket.outstanding_revenue, 0) as decimal(18, 2)) as outstanding_revenue
from organizations
cross join buckets
left join per_bucket
    on per_bucket.tenant_id = organizations.tenant_id
    and per_bucket.bucket_order = buckets.bucket_order
