"""Staff accounts a clinic runs itself: administration, invitations, password resets, each person's own account."""
