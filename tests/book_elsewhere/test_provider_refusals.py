"""A provider that says no: nothing is shown as booked, the secretary reads why in her language. The provider
here is a stand-in on loopback (the directories are the sandbox's, pointed at it), because this portal's own
FHIR API never answers these ways; it answers what the NHS Booking API allows a provider to."""


import pytest
from flask import Flask, request
from sqlalchemy import select

from portal.extensions import db
from portal.security.models import AuditEvent
from tests.conftest import serve_on_loopback

OFFER = {"slot_id": "77", "start": "2039-03-01T09:00:00Z", "end": "2039-03-01T09:15:00Z"}
OUTCOME = {"resourceType": "OperationOutcome",
           "issue": [{"severity": "error", "code": "duplicate", "diagnostics": "DUPLICATE_REJECTED: already booked"}]}


@pytest.fixture(scope="module")
def stand_in():
    provider = Flask("stand-in-provider")
    provider.config["ANSWER"] = (201, {})

    @provider.post("/oauth/token")
    def token():
        return {"access_token": "stand-in", "token_type": "bearer", "expires_in": 30}

    @provider.get("/fhir/stu3/Slot")
    def slots():
        return {"resourceType": "Bundle", "type": "searchset", "entry": []}

    @provider.post("/fhir/stu3/Appointment")
    def book():
        provider.config["BOOKED"] = request.get_json(force=True)
        status, body = provider.config["ANSWER"]
        return (body, status) if body is not None else ("", status)

    with serve_on_loopback(provider) as url:
        yield provider, url


@pytest.fixture
def provider(chain, stand_in, monkeypatch):
    app, url = stand_in
    monkeypatch.setitem(chain.config, "PORTAL_URL", url)  # the endpoint directory names the stand-in
    return app


def book(secretary, service_id, language="en"):
    return secretary.post("/book-elsewhere/book", headers={"Accept-Language": language},
                          data={"csrf_token": secretary.csrf, "nhs_number": "9434765919",
                                "service_id": f"dos-{service_id}", **OFFER})


@pytest.mark.parametrize("answer", [
    (201, {"resourceType": "Appointment", "id": "A1", "status": "cancelled"}),
    (201, {"resourceType": "Appointment", "status": "booked"}),  # no id: nothing to find it by
    (201, OUTCOME),
])
def test_a_created_answer_without_a_booked_appointment_is_not_shown_as_booked(
        app, staff_client, provider, this_week, answer):
    provider.config["ANSWER"] = answer
    secretary = staff_client("secretary")
    answered = book(secretary, this_week["service_id"])
    html = answered.get_data(as_text=True)
    assert answered.status_code == 409, html
    assert "is booked at" not in html and "Booked" not in html
    assert "Not booked:" in html
    with app.app_context():
        assert "appointment.booked_elsewhere" not in set(db.session.scalars(select(AuditEvent.action)))


@pytest.mark.parametrize("status", [400, 409, 422])
def test_a_refusal_says_nothing_was_booked_and_the_providers_reason(app, staff_client, provider, this_week, status):
    provider.config["ANSWER"] = (status, OUTCOME)
    secretary = staff_client("secretary")
    answered = book(secretary, this_week["service_id"])
    html = answered.get_data(as_text=True)
    assert answered.status_code == 409, html
    assert "Not booked: DUPLICATE_REJECTED: already booked" in html and "try again in a moment" not in html


def test_in_bokmal_the_refusal_reads_in_bokmal(app, staff_client, provider, this_week):
    provider.config["ANSWER"] = (201, {"resourceType": "Appointment", "id": "A1", "status": "proposed"})
    html = book(staff_client("secretary"), this_week["service_id"], "nb").get_data(as_text=True)
    assert "Ikke bestilt: tilbyderen bekreftet ikke bestillingen." in html


def test_a_refusal_without_a_readable_reason_still_says_nothing_was_booked(app, staff_client, provider, this_week):
    provider.config["ANSWER"] = (409, None)
    html = book(staff_client("secretary"), this_week["service_id"]).get_data(as_text=True)
    assert "Not booked: the provider refused the booking." in html
