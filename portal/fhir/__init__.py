"""FHIR STU3 provider API (`/fhir/stu3`) and the OAuth2 token endpoint for machine clients."""
