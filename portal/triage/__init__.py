"""The secretaries' triage queue: care requests partner staff could not self-schedule, booked,
booked elsewhere or declined by the clinic, the creator told by e-mail."""
