"""The notifications outbox: every SMS and e-mail the portal sends goes through here."""
