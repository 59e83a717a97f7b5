"""One router per area; each route translates HTTP to a service call and back."""
