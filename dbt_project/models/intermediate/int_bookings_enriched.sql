{#
  One row per booking with its value, local dates, FX conversion to the tenant's base currency
  (and to USD for the operator) and revenue-class flags (METRICS.md, "Per booking").

  Incremental, delete+insert keyed by (tenant_id, service_month):
  - every row carries `source_row_hash`, a hash of the staging columns it is computed from and
    of the tenant's base currency;
  - a run compares, per tenant, the row count and the sum of those hashes between staging and
    the table: tenants that differ are the only ones looked at row by row;
  - in those tenants, a source row whose (booking_id, source_row_hash) is not loaded is new or
    changed (it is enriched), a loaded row whose pair is not in the source is stale (changed or
    deleted);
  - the (tenant, service_month) partitions of stale and new rows are rewritten whole: the batch
    holds the new rows, the untouched rows of those partitions as they are, and, for a partition
    left with no row at all (its only booking moved to another month or was deleted), one
    tombstone row (booking_id null) so that delete+insert still deletes it; the post-hook then
    removes the tombstones in the same transaction.
  In a build limited to some tenants (AUDITORYX_TENANT_SCOPE: only their raw rows changed since the
  last successful build, macros/tenant_scope.sql), those tenants are compared row by row directly
  (no fingerprint pass), every read filtered by the literal list of their ids; for those of them
  whose changed bookings extraction recorded row by row (macros/tenant_scope.sql row_scope()),
  only the recorded bookings are compared, so the cost follows the change, not the tenant's size.
  A re-run on unchanged data finds no changed tenant and writes nothing, so a first incremental
  run cannot duplicate rows. The FX seed and the code are not in the hash: when they change,
  warehouse/dbt_runner.py runs with --full-refresh (project fingerprint). The model does not
  depend on the as-of date D.

  Performance: local dates are derived per (time zone, UTC start day) and FX rates per (currency,
  service date), a few thousand pairs, then joined back by equality (one join gives the offsets
  of the start day and of the next one, where the end of most bookings falls); the exact ICU
  conversion `timezone()` is only called for the rare bookings on a UTC day during which their
  zone changes offset, or ending more than a day after their start day. `booking_id` is stored
  uncompressed (meta uncompressed_columns, macros/create_table_as.sql): one distinct id per row,
  which DuckDB's string compression cannot shrink and which cost more to write than the query.
#}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['tenant_id', 'service_month'],
        on_schema_change='fail',
        post_hook=["delete from {{ this }} where booking_id is null"],
        meta={'uncompressed_columns': ['booking_id']},
    )
}}

-- depends_on: {{ ref('int_booking_changes') }}

{#- the staging columns a row is computed from, and its hash (with the tenant's base currency) -#}
{%- set source_columns -%}
        bookings.booking_id,
        bookings.tenant_id,
        bookings.artist_id,
        bookings.booking_type,
        bookings.status,
        bookings.payment_status,
        bookings.timezone,
        bookings.start_at,
        bookings.end_at,
        bookings.duration_minutes,
        bookings.currency,
        bookings.budget,
        bookings.final_price,
        organizations.base_currency,
        hash(
            bookings.booking_id, bookings.tenant_id, bookings.artist_id, bookings.booking_type,
            bookings.status, bookings.payment_status, bookings.timezone,
            bookings.start_at, bookings.end_at, bookings.duration_minutes, bookings.currency,
            bookings.budget, bookings.final_price, bookings.updated_at, organizations.base_currency
        ) as source_row_hash
{%- endset %}

with organizations as (

    select tenant_id, base_currency
    from {{ ref('stg_operational__organizations') }}

),

fx_rates as (

    select rate_date, currency, usd_per_unit, units_per_usd
    from {{ ref('fx_rates') }}

),

{% if is_incremental() %}
{%- set scoped = tenant_scope() | length > 0 %}

loaded as not materialized (

    select tenant_id, booking_id, service_month, source_row_hash
    from {{ this }}

),

{% if scoped %}
{%- set by_row = row_scope() %}
{%- set by_tenant = tenant_scope() | reject('in', by_row) | list %}

-- a build limited to some tenants: theirs are the rows to compare (their raw rows changed; when
-- their bookings did not, the comparison below finds nothing to write). A literal list, which
-- DuckDB applies while scanning, instead of a per-tenant fingerprint pass over the source first.
-- For the tenants whose changed bookings extraction recorded (row_scope(), warehouse/pending.py),
-- only those bookings: every other booking of theirs is as loaded.
{%- if by_row %}

changed_rows as (

    select distinct id as booking_id
    from main.dbt_pending_rows  -- the build database's own bookkeeping, not a dbt relation
    where table_name = 'bookings' and {{ in_tenant_list('tenant_id', by_row) }}

),
{%- endif %}

{% else %}
{%- set by_row = [] %}

-- per tenant: row count and sum of row hashes, in the source and as loaded
source_fingerprints as (

    select tenant_id, count(*) as row_count, sum(source_row_hash) as hash_sum
    from (
        select
            {{ source_columns }}
        from {{ ref('stg_operational__bookings') }} as bookings
        left join organizations
            on organizations.tenant_id = bookings.tenant_id
    ) as hashed
    group by tenant_id

),

loaded_fingerprints as (

    select tenant_id, count(*) as row_count, sum(source_row_hash) as hash_sum
    from loaded
    group by tenant_id

),

changed_tenants as (

    select coalesce(source_fingerprints.tenant_id, loaded_fingerprints.tenant_id) as tenant_id
    from source_fingerprints
    full outer join loaded_fingerprints
        on loaded_fingerprints.tenant_id = source_fingerprints.tenant_id
    where source_fingerprints.row_count is distinct from loaded_fingerprints.row_count
       or source_fingerprints.hash_sum is distinct from loaded_fingerprints.hash_sum

),

{% endif %}

-- the changed tenants only, row by row (in a scoped build, the tenants whose changed rows are
-- recorded: those rows only)
source_of_changed as materialized (

    select
        {{ source_columns }}
    from {{ ref('stg_operational__bookings') }} as bookings
    left join organizations
        on organizations.tenant_id = bookings.tenant_id
    where {% if scoped %}{{ in_tenant_list('bookings.tenant_id', by_tenant) }}
          {%- else %}bookings.tenant_id in (select tenant_id from changed_tenants){% endif %}
    {%- if by_row %}

    union all

    select
        {{ source_columns }}
    from {{ ref('stg_operational__bookings') }} as bookings
    left join organizations
        on organizations.tenant_id = bookings.tenant_id
    where {{ in_tenant_list('bookings.tenant_id', by_row) }}
      and bookings.booking_id in (select booking_id from changed_rows)
    {%- endif %}

),

loaded_of_changed as materialized (

    select * from loaded
    where {% if scoped %}{{ in_tenant_list('tenant_id', by_tenant) }}
          {%- else %}tenant_id in (select tenant_id from changed_tenants){% endif %}
    {%- if by_row %}

    union all

    select * from loaded
    where {{ in_tenant_list('tenant_id', by_row) }}
      and booking_id in (select booking_id from changed_rows)
    {%- endif %}

),


-- new or changed bookings: their current version is not loaded
to_enrich as (

    select source_of_changed.*
    from source_of_changed
    anti join loaded_of_changed
        on loaded_of_changed.booking_id = source_of_changed.booking_id
        and loaded_of_changed.source_row_hash = source_of_changed.source_row_hash

),

-- loaded versions that are no longer current (the booking changed or was deleted)
stale as (

    select loaded_of_changed.*
    from loaded_of_changed
    anti join source_of_changed
        on source_of_changed.booking_id = loaded_of_changed.booking_id
        and source_of_changed.source_row_hash = loaded_of_changed.source_row_hash

),

{% else %}

-- every booking (read by several steps below: not materialized, each takes the columns it needs)
to_enrich as not materialized (

    select
        {{ source_columns }}
    from {{ ref('stg_operational__bookings') }} as bookings
    left join organizations
        on organizations.tenant_id = bookings.tenant_id

),

{% endif %}

-- the UTC offset of each zone over each UTC day the bookings start or end on; a day whose
-- offset at its end differs from the one at its start holds a transition (DST) and is
-- converted exactly, instant by instant
-- (bookings are keyed by their start day; the row also carries the next day, on which most
-- bookings that cross midnight UTC end; other end days are converted exactly)
zone_days as (

    select distinct timezone, {{ utc_date('start_at') }} as utc_day
    from to_enrich

),

zone_day_offsets as (

    select
        timezone,
        utc_day,
        timezone(timezone, cast(utc_day as timestamptz)) - cast(utc_day as timestamp) as day_offset,
        timezone(timezone, cast(utc_day + 1 as timestamptz)) - cast(utc_day + 1 as timestamp) as next_day_offset,
        timezone(timezone, cast(utc_day + 2 as timestamptz)) - cast(utc_day + 2 as timestamp) as day_after_offset
    from zone_days

),

zone_offsets as (

    select
        timezone,
        utc_day,
        day_offset,
        day_offset <> next_day_offset as has_transition,
        next_day_offset,
        next_day_offset <> day_after_offset as next_day_has_transition
    from zone_day_offsets

),

-- the latest rate on or before every (currency, day) a service date can fall on: the booking's
-- currency and, independently (each currency its own latest date), the base currency, for the
-- UTC end day and the days around it (a local date is at most one day away)
rate_days as (

    select currency, {{ utc_date('end_at') }} as utc_day from to_enrich
    union
    select base_currency, {{ utc_date('end_at') }} from to_enrich

),

rate_needs as (

    select distinct rate_days.currency, rate_days.utc_day + day_shift.days as service_date
    from rate_days
    cross join (values (-1), (0), (1)) as day_shift (days)
    where rate_days.currency is not null

),

rates as (

    select
        rate_needs.currency,
        rate_needs.service_date,
        fx_rates.rate_date,
        fx_rates.usd_per_unit,
        fx_rates.units_per_usd
    from rate_needs
    asof left join fx_rates
        on fx_rates.currency = rate_needs.currency
        and fx_rates.rate_date <= rate_needs.service_date

),

localized as (

    select
        to_enrich.*,
        coalesce(to_enrich.final_price, to_enrich.budget) as value,
        case
            when offsets.has_transition then cast(timezone(to_enrich.timezone, to_enrich.start_at) as date)
            else cast({{ utc_wall_time('to_enrich.start_at') }} + offsets.day_offset as date)
        end as start_local_date,
        case
            when {{ utc_date('to_enrich.end_at') }} = offsets.utc_day and not offsets.has_transition
                then cast({{ utc_wall_time('to_enrich.end_at') }} + offsets.day_offset as date)
            when {{ utc_date('to_enrich.end_at') }} = offsets.utc_day + 1 and not offsets.next_day_has_transition
                then cast({{ utc_wall_time('to_enrich.end_at') }} + offsets.next_day_offset as date)
            else cast(timezone(to_enrich.timezone, to_enrich.end_at) as date)
        end as service_date
    from to_enrich
    left join zone_offsets as offsets
        on offsets.timezone = to_enrich.timezone
        and offsets.utc_day = {{ utc_date('to_enrich.start_at') }}

),

with_rates as (

    select
        localized.*,
        booking_currency_rates.rate_date as booking_currency_rate_date,
        booking_currency_rates.usd_per_unit as booking_currency_usd_per_unit,
        base_currency_rates.rate_date as base_currency_rate_date,
        base_currency_rates.units_per_usd as base_currency_units_per_usd
    from localized
    left join rates as booking_currency_rates
        on booking_currency_rates.currency = localized.currency
        and booking_currency_rates.service_date = localized.service_date
    left join rates as base_currency_rates
        on base_currency_rates.currency = localized.base_currency
        and base_currency_rates.service_date = localized.service_date

),

converted as (

    select
        *,
        currency <> base_currency as needs_conversion,
        case
            when value is null then null
            when currency = base_currency then value
            else {{ convert_to_base('value', 'booking_currency_usd_per_unit', 'base_currency_units_per_usd') }}
        end as value_base,
        case
            when value is null then null
            when currency = 'USD' then value
            else {{ convert_to_base('value', 'booking_currency_usd_per_unit', '1') }}
        end as value_usd
    from with_rates

),

enriched as (

    select
        booking_id,
        tenant_id,
        artist_id,
        booking_type,
        status,
        payment_status,
        start_local_date,
        service_date,
        cast(date_trunc('month', start_local_date) as date) as start_month,
        cast(date_trunc('month', service_date) as date) as service_month,
        duration_minutes,

        -- money: original amount, then base-currency and USD amounts with the FX used
        currency,
        value,
        base_currency,
        needs_conversion,
        case when needs_conversion or currency <> 'USD' then booking_currency_rate_date end as fx_rate_date,
        case when needs_conversion or currency <> 'USD' then booking_currency_usd_per_unit end as fx_usd_per_unit,
        case when needs_conversion then base_currency_rate_date end as fx_base_rate_date,
        case when needs_conversion then base_currency_units_per_usd end as fx_base_units_per_usd,
        value_base,
        value_usd,

        -- revenue classes and counting flags
        coalesce(status <> 'DRAFT', false) as is_counted,
        coalesce(status = 'CANCELLED', false) as is_cancelled,
        coalesce(status = 'COMPLETED', false) as is_recognized,
        coalesce(status in ('APPROVED', 'CONFIRMED', 'IN_PROGRESS'), false) as is_pipeline,
        coalesce(status = 'COMPLETED' and payment_status = 'PAID', false) as is_collected,
        coalesce(status = 'COMPLETED' and payment_status in ('PENDING', 'PARTIAL'), false)
            as is_outstanding,

        -- incremental bookkeeping
        source_row_hash,
        cast('{{ run_started_at.isoformat() }}' as timestamptz) as loaded_at
    from converted

)

{% if is_incremental() %}

,

affected_partitions as (

    select tenant_id, service_month from stale
    union
    select tenant_id, service_month from enriched

),

-- untouched rows of the partitions being rewritten, copied as they are
kept as (

    select loaded_rows.* replace (cast('{{ run_started_at.isoformat() }}' as timestamptz) as loaded_at)
    {%- if scoped %}
    from (select * from {{ this }} where {{ in_tenant_scope('tenant_id') }}) as loaded_rows  -- every affected partition is in the scope
    {%- else %}
    from {{ this }} as loaded_rows
    {%- endif %}
    semi join affected_partitions
        on affected_partitions.tenant_id = loaded_rows.tenant_id
        and affected_partitions.service_month = loaded_rows.service_month
    anti join stale
        on stale.booking_id = loaded_rows.booking_id
        and stale.source_row_hash = loaded_rows.source_row_hash

),

batch as (

    select * from enriched
    union all by name
    select * from kept

),

-- a partition left empty still needs a row for delete+insert to delete it
tombstones as (

    select affected_partitions.tenant_id, affected_partitions.service_month
    from affected_partitions
    anti join batch
        on batch.tenant_id = affected_partitions.tenant_id
        and batch.service_month = affected_partitions.service_month

)

select * from batch
union all by name
select * from tombstones

{% else %}

select * from enriched

{% endif %}
