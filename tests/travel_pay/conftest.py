from tests.checkin.conftest import checkin_patient, clinic, travel_sandbox  # noqa: F401  (shared fixtures)
