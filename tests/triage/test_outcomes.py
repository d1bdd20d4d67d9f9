"""The partner sees what became of a triaged care request: on the detail page, and by e-mail at the
notification address of their profile (through the outbox, without patient data); with
self-scheduling off the flow says up front that the request goes to triage."""

import time

from sqlalchemy import select

from portal.extensions import db
from tests.care_requests.conftest import start_visit as _start, visit_answers as _visit
from tests.conftest import run_notification_jobs, slot_ids


def _set_notification_email(app, user_id, address):
    from portal.partners.models import PartnerUser

    with app.app_context():
        db.session.get(PartnerUser, user_id).notification_email = address
        db.session.commit()


def _outcome_mails(app):
    from portal.notifications.models import Notification

    with app.app_context():
        rows = db.session.scalars(select(Notification).where(Notification.kind == "care_request.outcome")).all()
        return [(n.recipient, n.subject, n.body, n.patient_id) for n in rows]


def test_a_declined_request_is_mailed_to_its_creator_without_patient_data(app, partners, staff_client, sandbox):
    northside = partners["northside"]
    _set_notification_email(app, northside["users"]["partner_admin"], "alerts@northside.example")
    secretary = staff_client("secretary")
    secretary.post(f"/triage/{northside['care_request_id']}/decline", data={"csrf_token": secretary.csrf})
    [(to, subject, body, patient_id)] = _outcome_mails(app)
    assert to == "alerts@northside.example" and "declined" in subject
    assert f"/partner/care-requests/{northside['care_request_id']}" in body
    assert "Northsideson" not in subject + body and "garden" not in body and patient_id is None
    run_notification_jobs(app)
    deadline = time.time() + 5
    while not sandbox.emails and time.time() < deadline:
        time.sleep(0.05)
    assert sandbox.emails[0]["to"] == ["alerts@northside.example"]


def test_a_booking_from_triage_is_mailed_with_the_time(app, partners, staff_client, diary_set_up):
    northside = partners["northside"]
    _set_notification_email(app, northside["users"]["partner_admin"], "alerts@northside.example")
    secretary = staff_client("secretary")
    first = slot_ids(app, diary_set_up["service_id"])[0]
    secretary.post(f"/triage/{northside['care_request_id']}/book", data={"slot_id": first,
                                                                          "csrf_token": secretary.csrf})
    [(_, subject, body, _)] = _outcome_mails(app)
    # The diary is in Europe/London (GMT in January): the time where the care happens, with its zone.
    assert "booked" in subject and "2030" in body and "09:00 GMT" in body


def test_a_booking_that_fails_sends_no_mail(app, partners, staff_client, diary_set_up):
    from portal.scheduling.models import Slot

    northside = partners["northside"]
    _set_notification_email(app, northside["users"]["partner_admin"], "alerts@northside.example")
    first = slot_ids(app, diary_set_up["service_id"])[0]
    with app.app_context():
        db.session.get(Slot, first).status = "busy"
        db.session.commit()
    secretary = staff_client("secretary")
    secretary.post(f"/triage/{northside['care_request_id']}/book", data={"slot_id": first,
                                                                          "csrf_token": secretary.csrf})
    assert _outcome_mails(app) == []


def test_no_notification_address_means_no_mail(app, partners, staff_client):
    secretary = staff_client("secretary")
    secretary.post(f"/triage/{partners['northside']['care_request_id']}/decline", data={"csrf_token": secretary.csrf})
    assert _outcome_mails(app) == []


def test_the_detail_page_shows_when_the_clinic_decided(app, partners, partner_client, staff_client):
    care_request_id = partners["northside"]["care_request_id"]
    viewer = partner_client("northside", "viewer")
    assert "Decided by the clinic" not in viewer.get(f"/partner/care-requests/{care_request_id}").get_data(
        as_text=True)
    secretary = staff_client("secretary")
    secretary.post(f"/triage/{care_request_id}/decline", data={"csrf_token": secretary.csrf})
    detail = viewer.get(f"/partner/care-requests/{care_request_id}").get_data(as_text=True)
    assert "Decided by the clinic" in detail and "declined" in detail


def test_with_self_scheduling_off_the_flow_says_triage_and_never_offers_times(app, partners, partner_client,
                                                                               diary_set_up):
    from portal.care_requests.models import CareRequest
    from portal.partners.models import Partner

    with app.app_context():
        db.session.get(Partner, partners["northside"]["id"]).self_scheduling = False
        db.session.commit()
    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    page = client.get("/schedule").get_data(as_text=True)
    assert "Self-scheduling is off" in page and "Send to triage" in page and "Find a time" not in page
    response = client.post("/schedule", data=dict(_visit(diary_set_up["service_id"]), csrf_token=client.csrf))
    assert response.status_code == 302 and response.headers["Location"] == "/partner/care-requests"
    with app.app_context():
        created = db.session.scalar(select(CareRequest).where(CareRequest.created_by_id ==
                                                              partners["northside"]["users"]["scheduler"]))
        assert created.status == "triage" and created.appointment_id is None


def test_the_times_page_is_audited_as_a_read_of_the_patient(app, partners, partner_client, diary_set_up):
    from portal.security.models import AuditEvent

    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    assert "Free times" in client.post("/schedule", data=dict(_visit(diary_set_up["service_id"]),
                                                              csrf_token=client.csrf)).get_data(as_text=True)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "care_request.slots"))
        assert event.patient_id == partners["northside"]["patient_id"] and event.actor_type == "partner"


def test_the_booking_mail_says_the_time_in_the_services_zone_and_the_creators_language(app, partners, staff_client):
    from datetime import date, time

    from portal.care_requests.models import CareRequest
    from portal.partners.models import PartnerUser
    from portal.scheduling import services as scheduling

    northside = partners["northside"]
    creator = northside["users"]["partner_admin"]
    _set_notification_email(app, creator, "alerts@northside.example")
    with app.app_context():
        db.session.get(PartnerUser, creator).language = "nb"
        schedule = scheduling.set_up_schedule(name="Oslo legevakt — dr. Berg", service_name="Legevakt Oslo",
                                              organisation_code="NO001", location_name="Storgata 40",
                                              timezone_name="Europe/Oslo")
        scheduling.add_weekly_template(schedule.id, weekday=0, start_time=time(9), end_time=time(10),
                                       slot_minutes=30)
        scheduling.generate_slots(schedule.id, date(2030, 6, 3), date(2030, 6, 3))
        db.session.get(CareRequest, northside["care_request_id"]).healthcare_service_id = \
            schedule.healthcare_service_id
        db.session.commit()
        service_id = schedule.healthcare_service_id
    first = slot_ids(app, service_id)[0]  # Monday 3 June 2030, 09:00 in Oslo = 07:00 UTC
    secretary = staff_client("secretary")
    secretary.post(f"/triage/{northside['care_request_id']}/book", data={"slot_id": first,
                                                                          "csrf_token": secretary.csrf})
    [(_, subject, body, _)] = _outcome_mails(app)
    assert "09:00 CEST" in body and "07:00" not in body
    assert "Forespørsel" in subject and "bestilt av klinikken" in body
