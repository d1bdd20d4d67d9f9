"""Partner organisations: tenants, their users, care requests, handoff to self-scheduling, triage."""
