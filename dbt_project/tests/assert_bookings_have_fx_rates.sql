-- A booking with a value in a currency other than its tenant's base currency must find a rate
-- on or before its service date for both currencies: a missing rate fails the build instead of
-- becoming a silent null or zero in revenue. Returns the bookings that cannot be converted.
select
    tenant_id,
    booking_id,
    currency,
    base_currency,
    service_date,
    fx_usd_per_unit,
    fx_base_units_per_usd
from {{ scoped_ref('int_bookings_enriched') }}
where value is not null
  and needs_conversion
  and (fx_usd_per_unit is null or fx_base_units_per_usd is null or value_base is null)
