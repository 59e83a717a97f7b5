-- A booking with a value in a currency other than USD must find a usd_per_unit rate on or before
-- its service date (operator marts report revenue in USD): a missing rate fails the build.
select tenant_id, booking_id, currency, service_date
from {{ scoped_ref('int_bookings_enriched') }}
where value is not null
  and currency <> 'USD'
  and (fx_usd_per_unit is null or value_usd is null)
