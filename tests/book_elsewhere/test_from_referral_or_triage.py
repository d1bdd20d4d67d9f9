""""Book at another service" opened from a referral or a triage request: only the object's id travels,
the patient is looked up server-side with the policy's check, and the outcome shows where it came from."""

import re

from sqlalchemy import select

from portal import live
from portal.book_elsewhere.models import RemoteBooking
from portal.care_requests.models import CareRequest
from portal.care_requests.services import live_topic
from portal.extensions import db
from portal.notifications.models import Notification
from portal.referrals.models import Referral
from portal.scheduling import services as scheduling
from portal.security.models import AuditEvent
from tests.book_elsewhere.conftest import first_offer, form, make_referral, make_triage_request, nhs_patient
from tests.conftest import VALID_NHS_NUMBER, make_patient


def hidden(html: str, name: str) -> str | None:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html) or \
        re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    return match.group(1) if match else None


def book_through(secretary, source: dict, service_id: int):
    """Find → slots → book, carrying only the source id; returns (listing html, offer, booked response)."""
    found = form(secretary, "/book-elsewhere", {**source, "nhs_number": VALID_NHS_NUMBER, "postcode": "LS1 4AP"})
    assert found.status_code == 200, found.get_data(as_text=True)
    assert all(hidden(found.get_data(as_text=True), k) == v for k, v in source.items())
    listed = form(secretary, "/book-elsewhere/slots", {**source, "nhs_number": VALID_NHS_NUMBER,
                                                       "service_id": f"dos-{service_id}"})
    html = listed.get_data(as_text=True)
    assert listed.status_code == 200, html
    offer = first_offer(html)
    return html, offer


def test_from_a_referral_the_patient_is_prefilled_and_the_booking_noted(app, staff_client, chain, this_week):
    patient_id = nhs_patient(app)
    referral_id = make_referral(app, patient_id)
    secretary = staff_client("secretary")
    panel = secretary.get(f"/referrals/{referral_id}").get_data(as_text=True)
    link = re.search(r'id="book-elsewhere-\d+" class="button-link" href="([^"]+)"', panel).group(1)
    assert link == f"/book-elsewhere?referral={referral_id}"  # an id, never patient data
    page = secretary.get(link).get_data(as_text=True)
    assert "Amy Able" in page and f'value="{VALID_NHS_NUMBER}"' in page
    assert hidden(page, "referral_id") == str(referral_id)

    source = {"referral_id": str(referral_id)}
    _, offer = book_through(secretary, source, this_week["service_id"])
    booked = form(secretary, "/book-elsewhere/book", {**source, "nhs_number": VALID_NHS_NUMBER,
                                                      "service_id": f"dos-{this_week['service_id']}", **offer})
    html = booked.get_data(as_text=True)
    assert booked.status_code == 201 and f"noted on <a href=\"/referrals/{referral_id}\">referral" in html
    with app.app_context():
        booking = db.session.scalar(select(RemoteBooking))
        assert booking.referral_id == referral_id and booking.patient_id == patient_id
        assert booking.service_name == "Minor injuries unit" and booking.provider_ods_code == "RXX01"
        opened = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "book_elsewhere.opened"))
        assert opened.patient_id == patient_id
        assert db.session.get(Referral, referral_id).status == "awaiting_screening"  # the secretary still decides
    panel = secretary.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "Minor injuries unit (RXX01)" in panel


def test_from_triage_the_request_is_marked_booked_elsewhere(app, staff_client, chain, this_week):
    patient_id = nhs_patient(app)
    care_request_id = make_triage_request(app, patient_id)
    secretary = staff_client("secretary")
    detail = secretary.get(f"/triage/{care_request_id}").get_data(as_text=True)
    assert f'href="/book-elsewhere?care_request={care_request_id}"' in detail
    assert "None" not in detail and "none given" in detail  # a request without callback number or reason
    source = {"care_request_id": str(care_request_id)}
    _, offer = book_through(secretary, source, this_week["service_id"])
    booked = form(secretary, "/book-elsewhere/book", {**source, "nhs_number": VALID_NHS_NUMBER,
                                                      "service_id": f"dos-{this_week['service_id']}", **offer})
    assert booked.status_code == 201 and "marked <strong>booked elsewhere</strong>" in booked.get_data(as_text=True)
    with app.app_context():
        request = db.session.get(CareRequest, care_request_id)
        assert request.status == "booked_elsewhere" and request.handled_by_id is not None
        # the partner is told like any triage outcome: an e-mail to the creator, and their live list moves
        mails = db.session.scalars(select(Notification).where(Notification.kind == "care_request.outcome")).all()
        assert [m.recipient for m in mails] == ["alerts@northside.example"]
        assert "booked by the clinic at another service" in mails[0].body
        assert live.version(live_topic(request.partner_id)) == 1
    assert f"/triage/{care_request_id}" not in secretary.get("/triage").get_data(as_text=True)
    detail = secretary.get(f"/triage/{care_request_id}").get_data(as_text=True)
    assert "Minor injuries unit (RXX01)" in detail and "book-elsewhere-" not in detail
    # a second booking for the same request is refused before anything is booked
    again = form(secretary, "/book-elsewhere/book", {**source, "nhs_number": VALID_NHS_NUMBER,
                                                     "service_id": f"dos-{this_week['service_id']}", **offer})
    assert again.status_code == 409 and "no longer in triage" in again.get_data(as_text=True)


def test_slot_taken_at_the_provider_refreshes_the_list_and_keeps_the_request(app, staff_client, chain, this_week):
    patient_id = nhs_patient(app)
    care_request_id = make_triage_request(app, patient_id)
    secretary = staff_client("secretary")
    source = {"care_request_id": str(care_request_id)}
    _, offer = book_through(secretary, source, this_week["service_id"])
    with app.app_context():
        scheduling.block_slot(int(offer["slot_id"]), actor=("staff", "1"))
    late = form(secretary, "/book-elsewhere/book", {**source, "nhs_number": VALID_NHS_NUMBER,
                                                    "service_id": f"dos-{this_week['service_id']}", **offer})
    html = late.get_data(as_text=True)
    assert late.status_code == 409 and "Not booked:" in html and "The list below is fresh" in html
    assert f'name="slot_id" value="{offer["slot_id"]}"' not in html
    assert f'name="care_request_id" value="{care_request_id}"' in html  # the fresh list still books for it
    with app.app_context():
        assert db.session.get(CareRequest, care_request_id).status == "triage"
        assert db.session.scalar(select(RemoteBooking)) is None


def test_another_patients_nhs_number_is_refused_for_this_referral(app, staff_client, chain, this_week):
    referral_id = make_referral(app, nhs_patient(app))
    secretary = staff_client("secretary")
    other = form(secretary, "/book-elsewhere", {"referral_id": str(referral_id), "nhs_number": "9990548609",
                                                "postcode": "LS1"})
    assert other.status_code == 422 and "not the NHS number of the patient" in other.get_data(as_text=True)


def test_a_patient_without_an_nhs_number_is_not_prefilled(app, staff_client, chain, this_week):
    referral_id = make_referral(app, make_patient(app))  # a fødselsnummer, no NHS number
    page = staff_client("secretary").get(f"/book-elsewhere?referral={referral_id}").get_data(as_text=True)
    assert "We hold no NHS number for this patient" in page and "13116900216" not in page


def test_unknown_foreign_or_malformed_ids_are_404_and_roles_are_checked(app, staff_client, chain, this_week):
    secretary = staff_client("secretary")
    for url in ("/book-elsewhere?referral=999999", "/book-elsewhere?care_request=999999",
                "/book-elsewhere?referral=abc", "/book-elsewhere?referral=99999999999",
                "/book-elsewhere?care_request=-1"):
        assert secretary.get(url).status_code == 404, url
    assert form(secretary, "/book-elsewhere", {"referral_id": "424242", "nhs_number": VALID_NHS_NUMBER,
                                               "postcode": "LS1"}).status_code == 404
    referral_id = make_referral(app, nhs_patient(app))
    assert staff_client("doctor").get(f"/book-elsewhere?referral={referral_id}").status_code == 403
