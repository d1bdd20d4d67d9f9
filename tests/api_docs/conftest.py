import pytest

from portal.extensions import limiter
from tests.api_docs import fuzzing
from tests.conftest import make_consultation, make_staff, sign_in, slot_ids
from tests.fhir.conftest import VALID_NHS_NUMBER, appointment_body


@pytest.fixture
def fuzz_world(app, diary_set_up):
    """What the generated requests meet: a diary of free slots, an API client with every scope, an
    appointment it booked, and a consultation assigned to a signed-in doctor."""
    from portal.consultations.services import get_consultation, pick_consultation
    from portal.fhir import oauth

    # The same client id and secret in every test: Schemathesis keeps a fetched token for a while,
    # and it must stay good after the tables are emptied between tests.
    client_id, secret = "fuzz-client", "fuzz-client-secret-0123456789"
    with app.app_context():
        oauth.ensure_api_client(client_id=client_id, secret=secret, name="Fuzzer", scopes=list(oauth.SCOPES))
    fuzzing.CREDENTIALS.update(app=app, client_id=client_id, client_secret=secret,
                               webhook_secret=app.config["REFERRAL_WEBHOOK_SECRET"])
    doctor_id = make_staff(app, "doctor", "fuzz-doctor@test.example")
    consultation_id = make_consultation(app)
    with app.app_context():
        pick_consultation(get_consultation(consultation_id), doctor_id=doctor_id)
    doctor = app.test_client()
    assert sign_in(doctor, "fuzz-doctor@test.example").status_code == 302
    fuzzing.CREDENTIALS["session"] = doctor.get_cookie("session").value
    appointment_id = _book_as_the_fuzzer(app, client_id, secret, slot_ids(app)[0])
    fuzzing.CREDENTIALS["ids"] = {
        "/api/consultations/{id}": consultation_id, "/fhir/stu3/Appointment/{id}": appointment_id,
        "/fhir/stu3/Schedule/{id}": diary_set_up["schedule_id"],
        "/fhir/stu3/Practitioner/{id}": diary_set_up["practitioner_id"],
        "/fhir/stu3/Location/{id}": diary_set_up["location_id"],
        "/fhir/stu3/HealthcareService/{id}": diary_set_up["service_id"],
        "service": diary_set_up["service_id"],
        "patient": f"https://fhir.nhs.uk/Id/nhs-number|{VALID_NHS_NUMBER}",
    }
    limiter_was = limiter.enabled
    limiter.enabled = False  # 60 token requests a minute would make most of them 429s
    yield fuzzing.CREDENTIALS
    limiter.enabled = limiter_was
    fuzzing.CREDENTIALS.clear()


def _book_as_the_fuzzer(app, client_id: str, secret: str, slot_id: int) -> int:
    client = app.test_client()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    body = appointment_body(slot_id, "2030-01-07T09:00:00+00:00", "2030-01-07T09:15:00+00:00")
    booked = client.post("/fhir/stu3/Appointment", json=body, headers={
        "Authorization": f"Bearer {token.json['access_token']}", "Content-Type": "application/fhir+json"})
    assert booked.status_code == 201, booked.get_data(as_text=True)
    return int(booked.json["id"])
