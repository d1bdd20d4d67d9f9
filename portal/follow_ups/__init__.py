"""Follow-ups booked from a consultation: a new consultation that enters the queue at a date, or an appointment."""
