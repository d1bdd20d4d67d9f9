"""Booking at another service, the whole chain on loopback: the sandbox plays the service directory,
endpoint directory and demographics service; the remote provider is this portal's FHIR API."""

from sqlalchemy import select

from portal.extensions import db
from portal.scheduling import services
from portal.scheduling.models import Appointment
from portal.security.models import AuditEvent
from tests.book_elsewhere.conftest import first_offer, form


def find_and_list(secretary, service_id):
    found = form(secretary, "/book-elsewhere", {"nhs_number": "943 476 5919", "postcode": "LS1 4AP"})
    html = found.get_data(as_text=True)
    assert found.status_code == 200, html
    assert "Amy Able" in html and "Minor injuries unit (RXX01)" in html
    listed = form(secretary, "/book-elsewhere/slots", {"nhs_number": "9434765919", "service_id": f"dos-{service_id}"})
    assert listed.status_code == 200, listed.get_data(as_text=True)
    return listed.get_data(as_text=True)


def test_secretary_books_a_free_slot_at_another_service(app, staff_client, chain, this_week):
    secretary = staff_client("secretary")
    assert "Book elsewhere" in secretary.get("/book-elsewhere").get_data(as_text=True)
    listing = find_and_list(secretary, this_week["service_id"])
    assert "Asha Patel" in listing and "Riverside Health Centre" in listing
    offer = first_offer(listing)
    booked = form(secretary, "/book-elsewhere/book", {"nhs_number": "9434765919",
                                                      "service_id": f"dos-{this_week['service_id']}",
                                                      "description": "Wrist pain", **offer})
    html = booked.get_data(as_text=True)
    assert booked.status_code == 201, html
    assert "Amy Able is booked at Minor injuries unit" in html
    with app.app_context():
        appointment = db.session.scalar(select(Appointment))
        assert str(appointment.slot_id) == offer["slot_id"] and appointment.description == "Wrist pain"
        assert appointment.booked_by == "api_client:care-portal-loopback"
        actions = list(db.session.scalars(select(AuditEvent.action)))
        assert {"pds.person_viewed", "appointment.booked_elsewhere", "appointment.booked"} <= set(actions)
        assert actions.count("api_client.token_issued") == 1  # the token is cached between the steps


def test_a_slot_taken_meanwhile_refreshes_the_list_and_says_why(app, staff_client, chain, this_week):
    secretary = staff_client("secretary")
    offer = first_offer(find_and_list(secretary, this_week["service_id"]))
    with app.app_context():
        services.block_slot(int(offer["slot_id"]), actor=("staff", "1"))
    late = form(secretary, "/book-elsewhere/book", {"nhs_number": "9434765919",
                                                    "service_id": f"dos-{this_week['service_id']}", **offer})
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Not booked:" in html and "no longer free" in html and "The list below is fresh" in html
    assert f'name="slot_id" value="{offer["slot_id"]}"' not in html
    with app.app_context():
        assert db.session.scalar(select(Appointment)) is None


def test_slots_that_have_started_are_never_offered_even_when_the_provider_lists_them():
    from datetime import datetime

    from portal.book_elsewhere.services import slots_in

    now = datetime(2026, 3, 2, 9, 0)
    bundle = {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Slot", "id": s, "status": "free", "start": start, "end": end}}
        for s, start, end in (("started", "2026-03-02T08:50:00+00:00", "2026-03-02T09:10:00+00:00"),
                              ("now", "2026-03-02T09:00:00Z", "2026-03-02T09:20:00Z"),
                              ("later", "2026-03-02T10:00:00+01:00", "2026-03-02T10:20:00+01:00"),
                              ("next", "2026-03-02T09:00:01Z", "2026-03-02T09:20:00Z"))]}
    assert [slot.id for slot in slots_in(bundle, now=now)] == ["next"]  # 10:00+01:00 is 09:00Z: started too


def test_an_offer_that_has_started_while_the_page_was_open_is_refused_before_the_provider(
        app, staff_client, chain, this_week):
    secretary = staff_client("secretary")
    offer = first_offer(find_and_list(secretary, this_week["service_id"]))
    offer["start"] = "2026-01-05T09:00:00+00:00"  # the page was left open: the slot's start is behind us
    late = form(secretary, "/book-elsewhere/book", {"nhs_number": "9434765919",
                                                    "service_id": f"dos-{this_week['service_id']}", **offer})
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Not booked: that slot has already started" in html and "The list below is fresh" in html
    with app.app_context():
        assert db.session.scalar(select(Appointment)) is None
        assert "appointment.booked_elsewhere" not in set(db.session.scalars(select(AuditEvent.action)))


def test_nhs_numbers_are_checked_locally_and_with_the_demographics_service(staff_client, chain, this_week):
    secretary = staff_client("secretary")
    bad_digit = form(secretary, "/book-elsewhere", {"nhs_number": "9434765918", "postcode": "LS1"})
    assert bad_digit.status_code == 422 and "check digit" in bad_digit.get_data(as_text=True)
    unknown = form(secretary, "/book-elsewhere", {"nhs_number": "9990548609", "postcode": "LS1"})
    assert unknown.status_code == 422 and "knows no person" in unknown.get_data(as_text=True)


def test_a_failing_or_slow_directory_is_a_clear_message_not_a_crash(app, staff_client, chain, this_week,
                                                                      monkeypatch):
    secretary = staff_client("secretary")
    chain.config["FAILURE_MODES"] = {"pds": "500"}
    down = form(secretary, "/book-elsewhere", {"nhs_number": "9434765919", "postcode": "LS1"})
    assert down.status_code == 502 and "demographics service answered 500" in down.get_data(as_text=True)
    chain.config["FAILURE_MODES"] = {"dos": "slow"}
    monkeypatch.setitem(app.config, "EXTERNAL_TIMEOUT_SECONDS", 0.3)
    slow = form(secretary, "/book-elsewhere", {"nhs_number": "9434765919", "postcode": "LS1"})
    assert slow.status_code == 502 and "service directory did not answer in time" in slow.get_data(as_text=True)


def test_tampered_or_missing_form_fields_are_refused(app, staff_client, chain, this_week):
    secretary = staff_client("secretary")
    assert form(secretary, "/book-elsewhere/slots", {"nhs_number": "9434765919"}).status_code == 422
    unknown = form(secretary, "/book-elsewhere/slots", {"nhs_number": "9434765919", "service_id": "dos-999999"})
    assert unknown.status_code == 422 and "no longer lists" in unknown.get_data(as_text=True)
    bad_time = form(secretary, "/book-elsewhere/book", {"nhs_number": "9434765919", "slot_id": "1",
                                                        "service_id": f"dos-{this_week['service_id']}",
                                                        "start": "soon", "end": "later"})
    assert bad_time.status_code == 422
    assert secretary.post("/book-elsewhere", data={"nhs_number": "9434765919", "postcode": "x"}).status_code == 400


def test_doctors_may_not_book_elsewhere(staff_client):
    doctor = staff_client("doctor")
    assert doctor.get("/book-elsewhere").status_code == 403


def test_a_cached_token_the_provider_no_longer_accepts_is_replaced(app, staff_client, chain, this_week):
    from portal.extensions import redis_client

    secretary = staff_client("secretary")
    find_and_list(secretary, this_week["service_id"])
    with app.app_context():
        keys = redis_client().keys("remote-token:*")
        assert len(keys) == 1
        redis_client().set(keys[0], "a-token-from-before-the-key-rotation")
    listing = find_and_list(secretary, this_week["service_id"])
    assert "Asha Patel" in listing
    with app.app_context():
        assert redis_client().get(keys[0]) != b"a-token-from-before-the-key-rotation"
