"""Who may open a patient's record, its history and an earlier report: every role, allowed or 404.

The record's URLs name a patient, so every refusal is 404 (never 403): a person who may not see the
record cannot tell an existing patient from a missing one. Signed-out people are sent to sign in.
"""

import random

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.sandbox.referral_system import random_fodselsnummer
from tests.conftest import make_consultation, make_patient, make_staff, sign_in
from tests.partners.fixtures import sign_in_partner

TREATING = "treating-doctor@test.example"
OTHER = "other-doctor@test.example"
OK, NOT_FOUND = 200, 404


@pytest.fixture
def treated(app, sandbox):
    """A patient whose only consultation was completed by the treating doctor, report filed; nothing
    waits in the queue, so no other doctor has a reason to open the record."""
    from portal.consultations import results, services

    doctor = make_staff(app, "doctor", TREATING, "Dr. Treating")
    make_staff(app, "doctor", OTHER, "Dr. Other")
    patient_id = make_patient(app)
    consultation_id = make_consultation(app, patient_id)
    with app.app_context():
        services.pick_consultation(services.get_consultation(consultation_id), doctor_id=doctor)
        services.start_consultation(services.get_consultation(consultation_id), doctor_id=doctor)
        services.finish_consultation(services.get_consultation(consultation_id), doctor_id=doctor)
        results.file_report(services.get_consultation(consultation_id),
                            results.ReportIn(icpc2_code="A01", outcome="helped", notes="Sealed words"),
                            author_id=doctor)
        db.session.remove()
    return {"patient_id": patient_id, "consultation_id": consultation_id}


def staff(app, role, email=None):
    email = email or f"{role}@test.example"
    if role != "doctor" or email not in (TREATING, OTHER):
        make_staff(app, role, email)
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


def requests_of(treated):
    patient, consultation = treated["patient_id"], treated["consultation_id"]
    report = f"/patients/{patient}/consultations/{consultation}/report"
    return {
        "page": ("GET", f"/patients/{patient}", {}, {}),
        "history": ("GET", f"/patients/{patient}?page=2", {}, {"HX-Request": "true", "HX-Target": "history-more"}),
        "national_id": ("POST", f"/patients/{patient}/national-id", {}, {}),
        "report_reason": ("GET", report, {}, {}),
        "report": ("POST", report, {"reason": "current_care"}, {}),
    }


def answer(client, method, url, data, headers):
    from tests.conftest import csrf_token_from

    if method == "POST":
        token = csrf_token_from(client.get("/", follow_redirects=True).get_data(as_text=True))
        return client.post(url, data=dict(data, csrf_token=token), headers=headers)
    return client.get(url, headers=headers)


EVERYTHING = {"page": OK, "history": OK, "national_id": OK, "report_reason": OK, "report": OK}
NOTHING = {name: NOT_FOUND for name in EVERYTHING}
MATRIX = {
    ("staff", "secretary", None): dict(EVERYTHING, report_reason=NOT_FOUND, report=NOT_FOUND),
    ("staff", "admin", None): EVERYTHING,
    ("staff", "doctor", TREATING): EVERYTHING,
    ("staff", "doctor", OTHER): NOTHING,
    ("staff", "reporting", None): NOTHING,
    ("partner", "partner_admin", None): NOTHING,
    ("partner", "scheduler", None): NOTHING,
    ("partner", "viewer", None): NOTHING,
}


@pytest.mark.parametrize("who", list(MATRIX), ids=lambda who: who[2] or who[1])
def test_access_matrix(app, treated, partners, who):
    kind, role, email = who
    client = staff(app, role, email) if kind == "staff" else sign_in_partner(app, "northside", role)
    outcomes = {name: answer(client, *request).status_code for name, request in requests_of(treated).items()}
    assert outcomes == MATRIX[who]


def test_signed_out_people_are_sent_to_sign_in(app, treated, client):
    for name, (method, url, data, _headers) in requests_of(treated).items():
        response = client.get(url) if method == "GET" else client.post(url, data=data)
        # POSTs without a session fail the CSRF check first (400); GETs go to the sign-in page.
        assert response.status_code in ((302,) if method == "GET" else (302, 400)), name
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), name


def test_a_doctor_may_open_the_record_of_a_patient_waiting_in_the_queue(app, treated):
    client = staff(app, "doctor", OTHER)
    assert client.get(f"/patients/{treated['patient_id']}").status_code == NOT_FOUND
    make_consultation(app, treated["patient_id"])  # now waiting for any doctor to pick it
    assert client.get(f"/patients/{treated['patient_id']}").status_code == OK
    report = f"/patients/{treated['patient_id']}/consultations/{treated['consultation_id']}/report"
    assert client.get(report).status_code == OK


def test_unknown_patients_and_other_patients_consultations_are_not_found(app, treated):
    client = staff(app, "admin")
    other_patient = make_patient(app, fnr=random_fodselsnummer(random.Random(7)), last_name="Other")
    other_consultation = make_consultation(app, other_patient)
    assert client.get("/patients/999999").status_code == NOT_FOUND
    assert client.get(f"/patients/{2**31}").status_code == NOT_FOUND
    # The consultation exists and has a report, but is not this patient's.
    assert client.get(f"/patients/{other_patient}/consultations/{treated['consultation_id']}/report") \
        .status_code == NOT_FOUND
    # This patient's consultation without a report.
    assert client.get(f"/patients/{other_patient}/consultations/{other_consultation}/report").status_code \
        == NOT_FOUND


def test_nothing_is_audited_for_a_refused_request(app, treated):
    from portal.security.models import AuditEvent

    client = staff(app, "doctor", OTHER)
    client.get(f"/patients/{treated['patient_id']}")
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_type == "staff")))
    assert "patient.record_viewed" not in actions and "consultation_result.read" not in actions
