"""Booking at another service (the consumer side of FHIR booking): service directory -> endpoint
directory -> demographics -> the provider's FHIR API. The provider side is `portal/fhir/`."""
