"""Scheduling: healthcare services, locations, practitioners, schedules, slots, appointments and
the one booking service that every caller (staff pages, FHIR, partners, check-in) goes through."""
