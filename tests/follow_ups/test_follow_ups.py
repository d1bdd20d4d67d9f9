"""A doctor books a follow-up from a consultation: a consultation that enters the queue on its day, or an
appointment in a diary slot. The patient is told; both consultations show it; the insurer is billed by
the first consultation's deal."""

import re
import threading
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from portal.extensions import db, redis_client
from tests.conftest import make_patient, make_staff, sign_in, slot_ids
from tests.follow_ups.conftest import DOCTOR, in_progress

OSLO = ZoneInfo("Europe/Oslo")


def oslo_today() -> date:
    return datetime.now(OSLO).date()


def midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=OSLO).astimezone(timezone.utc).replace(tzinfo=None)


def book_consultation(client, consultation_id, **changes):
    form = {"csrf_token": client.csrf, "channels": ["VIDEO", "CHAT"], "primary_channel": "VIDEO", "doctor": "any",
            "not_before": (oslo_today() + timedelta(days=7)).isoformat()}
    form.update(changes)
    return client.post(f"/consultations/{consultation_id}/follow-up/consultation", data=form)


def load(app, model, **where):
    with app.app_context():
        rows = list(db.session.scalars(select(model).filter_by(**where).order_by(model.id)))
        db.session.expunge_all()
        return rows


def consultation_row(app, consultation_id):
    from portal.consultations.models import Consultation

    [row] = load(app, Consultation, id=consultation_id)
    return row


def follow_ups(app, **where):
    from portal.follow_ups.models import FollowUp

    return load(app, FollowUp, **where)


def messages(app, kind):
    from portal.notifications.models import Notification

    return load(app, Notification, kind=kind)


def release(app, now=None):
    from portal.consultations.services import release_due_consultations

    with app.app_context():
        released = release_due_consultations(now)
        db.session.remove()
        return released


def queue_codes(client, view="all") -> set[str]:
    return set(re.findall(r'<span class="muted">([A-Z0-9]{8})</span>', client.get(f"/consultations?view={view}")
                          .get_data(as_text=True)))


# -- a follow-up consultation -----------------------------------------------------------------------

def test_a_follow_up_consultation_stays_out_of_the_queue_until_its_day(app, consultation, doctor):
    day = oslo_today() + timedelta(days=7)
    response = book_consultation(doctor, consultation["id"], not_before=day.isoformat())
    assert response.status_code == 302
    assert response.headers["Location"] == f"/consultations/{consultation['id']}"
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    made = consultation_row(app, follow_up.follow_up_consultation_id)
    assert (made.state, made.source, made.follow_up_of_id) == ("scheduled", "follow_up", consultation["id"])
    assert made.created_at == midnight_utc(day)  # its queue time: 00:00 in Oslo on the day
    assert made.service_provider_id is None and made.patient_id == consultation["patient_id"]
    assert made.insurer_id == consultation["insurer_id"] and made.enabled_channels == ["CHAT", "VIDEO"]

    other = app.test_client()
    make_staff(app, "doctor", "other@test.example")
    sign_in(other, "other@test.example")
    assert made.code not in queue_codes(other)
    assert release(app) == []  # nothing is due yet
    assert release(app, now=midnight_utc(day) - timedelta(seconds=1)) == []
    assert release(app, now=midnight_utc(day)) == [made.id]
    assert consultation_row(app, made.id).state == "ready_for_pickup"
    assert made.code in queue_codes(other, "unassigned")
    assert release(app, now=midnight_utc(day) + timedelta(days=1)) == []  # released once


def test_with_me_it_enters_the_booking_doctors_list_and_the_patient_is_invited(app, consultation, doctor):
    day = oslo_today() + timedelta(days=3)
    book_consultation(doctor, consultation["id"], doctor="me", not_before=day.isoformat())
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    made = consultation_row(app, follow_up.follow_up_consultation_id)
    assert made.service_provider_id == consultation["doctor_id"] and follow_up.with_booking_doctor
    invited_before = len(messages(app, "consultation.waiting"))
    release(app, now=midnight_utc(day))
    made = consultation_row(app, made.id)
    assert (made.state, made.service_provider_id) == ("pending_sp", consultation["doctor_id"])
    assert made.assigned_at == midnight_utc(day)
    assert made.code in queue_codes(doctor, "mine")
    # The waiting-room link, by text message and e-mail as on any assignment.
    assert len(messages(app, "consultation.waiting")) == invited_before + 2


def test_a_follow_up_from_today_enters_the_queue_at_once(app, consultation, doctor):
    book_consultation(doctor, consultation["id"], not_before=oslo_today().isoformat())
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    made = consultation_row(app, follow_up.follow_up_consultation_id)
    assert made.state == "ready_for_pickup"
    assert made.code in queue_codes(doctor, "unassigned")


def test_the_patient_is_told_with_a_link_that_still_works_on_the_day(app, consultation, doctor, client):
    from portal.consultations.models import PatientLink

    day = oslo_today() + timedelta(days=30)
    book_consultation(doctor, consultation["id"], not_before=day.isoformat())
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    [sms] = messages(app, "follow_up.consultation")
    assert sms.channel == "sms" and sms.recipient == "+4791234567"
    assert sms.consultation_id == follow_up.follow_up_consultation_id
    assert f"from {day.day} {day:%B %Y}" in sms.body  # Babel's long date in the patient's language (English)
    token = re.search(r"/c/([A-Za-z0-9_-]+)", sms.body).group(1)
    [link] = load(app, PatientLink, consultation_id=follow_up.follow_up_consultation_id)
    assert link.expires_at >= midnight_utc(day) + timedelta(hours=app.config["PATIENT_LINK_HOURS"])
    # The patient follows the link now: after the identity check the page says when it opens.
    page = client.get(f"/c/{token}")
    from tests.conftest import csrf_token_from

    checked = client.post(f"/c/{token}", data={"csrf_token": csrf_token_from(page.get_data(as_text=True)),
                                              "last_name": "Danser", "birth_date": "1969-11-13"})
    assert checked.status_code == 302
    room = client.get("/c/room").get_data(as_text=True)
    assert "Your follow-up consultation" in room and f"It opens on {day.day} {day:%B %Y}" in room


def test_a_patient_without_a_phone_is_told_by_e_mail(app, sandbox, diary_set_up):
    doctor_id = make_staff(app, "doctor", DOCTOR)
    patient_id = make_patient(app, phone=None)
    consultation_id = in_progress(app, doctor_id, patient_id)
    client = app.test_client()
    sign_in(client, DOCTOR)
    from tests.conftest import csrf_token_from

    client.csrf = csrf_token_from(client.get(f"/consultations/{consultation_id}").get_data(as_text=True))
    assert book_consultation(client, consultation_id).status_code == 302
    [mail] = messages(app, "follow_up.consultation")
    assert mail.channel == "email" and mail.recipient == "line@example.com" and "/c/" in mail.body


def test_a_patient_the_clinic_cannot_reach_is_not_said_to_have_been_told(app, sandbox, diary_set_up):
    from tests.conftest import csrf_token_from

    doctor_id = make_staff(app, "doctor", DOCTOR)
    consultation_id = in_progress(app, doctor_id, make_patient(app, phone=None, email=None))
    client = app.test_client()
    sign_in(client, DOCTOR)
    client.csrf = csrf_token_from(client.get(f"/consultations/{consultation_id}").get_data(as_text=True))
    page = client.post(f"/consultations/{consultation_id}/follow-up/consultation", follow_redirects=True, data={
        "csrf_token": client.csrf, "channels": ["CHAT"], "primary_channel": "CHAT", "doctor": "me",
        "not_before": oslo_today().isoformat()}).get_data(as_text=True)
    assert "no phone or e-mail on record: tell them yourself" in page and "has been told" not in page
    assert messages(app, "follow_up.consultation") == [] and len(follow_ups(app)) == 1


def test_the_follow_up_shows_on_both_consultations_and_in_the_record(app, consultation, doctor):
    book_consultation(doctor, consultation["id"], doctor="me")
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    made = consultation_row(app, follow_up.follow_up_consultation_id)
    origin = consultation_row(app, consultation["id"])
    first = doctor.get(f"/consultations/{consultation['id']}").get_data(as_text=True)
    assert "Booked from this consultation:" in first
    assert f'href="/consultations/{made.id}">Consultation {made.code}</a>' in first
    assert "with the booking doctor" in first and "Booked for later" in first
    second = doctor.get(f"/consultations/{made.id}").get_data(as_text=True)
    assert f'This is a follow-up of\n    <a href="/consultations/{origin.id}">consultation {origin.code}</a>' in second
    assert "Enters the queue" in second
    record = doctor.get(f"/patients/{consultation['patient_id']}").get_data(as_text=True)
    assert f"Consultation {made.code}" in record and "Booked for later" in record
    assert f"Follow-up of consultation {origin.code}" in record  # on the follow-up's entry
    assert record.count(f'href="/consultations/{made.id}">Consultation {made.code}</a>') == 1  # on the first's


def test_a_scheduled_follow_up_can_be_cancelled_and_is_never_released(app, consultation, doctor, staff_client):
    day = oslo_today() + timedelta(days=2)
    book_consultation(doctor, consultation["id"], not_before=day.isoformat())
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    secretary = staff_client("secretary")
    response = secretary.post(f"/consultations/{follow_up.follow_up_consultation_id}/cancel",
                              data={"csrf_token": secretary.csrf, "reason": "patient_request"})
    assert response.status_code == 302
    assert consultation_row(app, follow_up.follow_up_consultation_id).state == "cancelled"
    assert release(app, now=midnight_utc(day) + timedelta(hours=1)) == []


def test_booking_schedules_the_release_and_the_job_keeps_the_sweep_going(app, consultation, doctor):
    from portal.follow_ups.jobs import release_follow_ups

    day = oslo_today() + timedelta(days=5)
    book_consultation(doctor, consultation["id"], not_before=day.isoformat())
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    with app.app_context():
        registry = ScheduledJobRegistry(queue=Queue("default", connection=redis_client()))
        assert f"follow-up-release-{follow_up.follow_up_consultation_id}" in registry.get_job_ids()
        assert release_follow_ups() == 0
        assert any(job_id.startswith("follow-up-release-sweep-") for job_id in registry.get_job_ids())


# -- what cannot be booked ----------------------------------------------------------------------------

def test_bad_follow_up_consultations_are_refused_next_to_their_fields(app, consultation, doctor):
    cases = [
        ({"not_before": (oslo_today() - timedelta(days=1)).isoformat()}, "The day has passed"),
        ({"not_before": ""}, "Enter the first day the follow-up may take place."),
        ({"not_before": (oslo_today() + timedelta(days=400)).isoformat()}, "Choose a day before"),
        ({"channels": []}, "Choose at least one channel."),
        ({"channels": ["CHAT"], "primary_channel": "VIDEO"}, "The main channel must be one of the chosen channels."),
        ({"primary_channel": ""}, "Choose the main channel."),
    ]
    for changes, error in cases:
        response = book_consultation(doctor, consultation["id"], **changes)
        assert response.status_code == 422, changes
        assert error in response.get_data(as_text=True), changes
    assert follow_ups(app) == [] and messages(app, "follow_up.consultation") == []


def test_only_the_consultations_own_doctor_books_and_only_while_it_runs_or_after(app, consultation, doctor,
                                                                                staff_client):
    from portal.consultations import services

    other = staff_client("doctor", "other@test.example")
    assert book_consultation(other, consultation["id"], csrf_token=other.csrf).status_code == 404
    assert other.get(f"/consultations/{consultation['id']}/follow-up").status_code == 404
    secretary = staff_client("secretary")
    assert book_consultation(secretary, consultation["id"], csrf_token=secretary.csrf).status_code == 403
    assert book_consultation(doctor, consultation["id"], csrf_token="forged").status_code == 400
    # Picked but not started: nothing to follow up yet.
    waiting = make_patient(app, fnr="17054026641", last_name="Other")
    from tests.conftest import make_consultation

    pending_id = make_consultation(app, waiting)
    with app.app_context():
        services.pick_consultation(services.get_consultation(pending_id), doctor_id=consultation["doctor_id"])
    assert doctor.get(f"/consultations/{pending_id}/follow-up").status_code == 409
    response = book_consultation(doctor, pending_id)
    assert response.status_code == 409 and "in progress or completed" in response.get_data(as_text=True)
    assert follow_ups(app) == []


def test_the_follow_up_page_is_offered_while_finishing_and_after(app, consultation, doctor):
    running = doctor.get(f"/consultations/{consultation['id']}").get_data(as_text=True)
    assert f'href="/consultations/{consultation["id"]}/follow-up"' in running
    doctor.post(f"/consultations/{consultation['id']}/finish", data={"csrf_token": doctor.csrf})
    finished = doctor.get(f"/consultations/{consultation['id']}").get_data(as_text=True)
    assert "Completed" in finished and f'href="/consultations/{consultation["id"]}/follow-up"' in finished
    page = doctor.get(f"/consultations/{consultation['id']}/follow-up")
    assert page.status_code == 200 and "Book a follow-up for Line Danser" in page.get_data(as_text=True)


# -- billing ------------------------------------------------------------------------------------------

def finish(app, consultation_id, doctor_id):
    from portal.consultations import services

    with app.app_context():
        consultation = services.get_consultation(consultation_id)
        if consultation.state != "in_progress":
            services.start_consultation(consultation, doctor_id=doctor_id)
        services.finish_consultation(services.get_consultation(consultation_id), doctor_id=doctor_id)
        db.session.remove()


def order_of(app, consultation_id):
    from portal.orders.models import Order, OrderLine

    [order] = load(app, Order, consultation_id=consultation_id)
    return order, load(app, OrderLine, order_id=order.id)


def new_deal_from_today(app, insurer_id, prices):
    from tests.orders.fixtures import add_deal

    with app.app_context():
        deal = add_deal(insurer_id, "New prices", date.today(), None, prices)
        db.session.commit()
        return deal.id


def test_a_follow_up_is_billed_under_the_first_consultations_deal_at_its_follow_up_price(app, consultation, doctor):
    finish(app, consultation["id"], consultation["doctor_id"])
    first_order, _ = order_of(app, consultation["id"])
    # The insurer's prices change after the first consultation; the follow-up keeps the first deal.
    new_deal_from_today(app, consultation["insurer_id"], {"VIDEO": "900.00", "ANY": "900.00"})
    book_consultation(doctor, consultation["id"], doctor="me", not_before=oslo_today().isoformat())
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    made = consultation_row(app, follow_up.follow_up_consultation_id)
    assert made.deal_id == first_order.deal_id
    finish(app, made.id, consultation["doctor_id"])
    order, [line] = order_of(app, made.id)
    assert order.deal_id == first_order.deal_id and order.insurer_id == consultation["insurer_id"]
    assert line.unit_price == Decimal("300.00") and order.total == Decimal("300.00")
    assert line.description == "Follow-up: Video consultation (insurance)"


def test_booked_before_the_first_is_billed_it_takes_the_deal_in_force_that_day(app, consultation, doctor):
    from portal.orders.models import Deal

    book_consultation(doctor, consultation["id"], not_before=oslo_today().isoformat())
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    [deal] = load(app, Deal, insurer_id=consultation["insurer_id"])
    assert consultation_row(app, follow_up.follow_up_consultation_id).deal_id == deal.id


def test_a_deal_without_a_follow_up_price_bills_the_channels_price(app, consultation, doctor):
    from portal.orders.models import DealPrice

    with app.app_context():
        db.session.execute(db.delete(DealPrice).where(DealPrice.kind == "follow_up"))
        db.session.commit()
    book_consultation(doctor, consultation["id"], doctor="me", not_before=oslo_today().isoformat())
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    finish(app, follow_up.follow_up_consultation_id, consultation["doctor_id"])
    _, [line] = order_of(app, follow_up.follow_up_consultation_id)
    assert line.unit_price == Decimal("650.00")


# -- a follow-up appointment ----------------------------------------------------------------------------

def free_times_page(client, consultation):
    return client.get(f"/consultations/{consultation['id']}/follow-up?schedule={consultation['schedule_id']}"
                      "&day=2030-01-07").get_data(as_text=True)


def offered(page: str, slot_id: int) -> bool:
    return re.search(rf'<input [^>]*name="slot_id" [^>]*value="{slot_id}"', page) is not None


def book_appointment(client, consultation, slot_id):
    return client.post(f"/consultations/{consultation['id']}/follow-up/appointment",
                       data={"csrf_token": client.csrf, "slot_id": slot_id, "schedule": consultation["schedule_id"],
                             "day": "2030-01-07"})


def test_a_follow_up_appointment_is_booked_in_a_diary_slot(app, consultation, doctor):
    from portal.scheduling.models import Appointment, Slot

    page = free_times_page(doctor, consultation)
    first_slot = slot_ids(app, consultation["service_id"])[0]
    assert offered(page, first_slot) and "09:00" in page
    response = book_appointment(doctor, consultation, first_slot)
    assert response.status_code == 302
    [appointment] = load(app, Appointment, slot_id=first_slot)
    assert appointment.patient_id == consultation["patient_id"] and appointment.status == "booked"
    assert appointment.booked_by == f"staff:{consultation['doctor_id']}"
    [slot] = load(app, Slot, id=first_slot)
    assert slot.status == "busy"
    [follow_up] = follow_ups(app, consultation_id=consultation["id"])
    assert (follow_up.kind, follow_up.appointment_id) == ("appointment", appointment.id)
    [sms] = messages(app, "follow_up.appointment")
    assert "7 Jan 2030, 09:00 (Europe/London) at Riverside Health Centre" in sms.body
    shown = doctor.get(f"/consultations/{consultation['id']}").get_data(as_text=True)
    assert "Appointment 2030-01-07 09:00 (Europe/London)" in shown
    assert not offered(free_times_page(doctor, consultation), first_slot)


def test_a_time_someone_else_took_first_is_409_and_nothing_is_recorded(app, consultation, doctor):
    from portal.scheduling import services as scheduling

    slot = slot_ids(app, consultation["service_id"])[0]
    free_times_page(doctor, consultation)  # the doctor sees it free ...
    with app.app_context():  # ... and a secretary books it first
        other = make_patient(app, fnr="17054026641", last_name="Other")
        scheduling.book_slot(slot, patient_id=other, actor=("staff", "1"))
    response = book_appointment(doctor, consultation, slot)
    assert response.status_code == 409
    assert "Someone else booked that time a moment ago" in response.get_data(as_text=True)
    assert follow_ups(app) == [] and messages(app, "follow_up.appointment") == []


def test_two_doctors_racing_for_one_slot_get_it_once(app, consultation):
    from portal.consultations import services as consultations
    from portal.follow_ups import services
    from portal.scheduling.services import SlotTaken

    second_doctor = make_staff(app, "doctor", "second@test.example")
    second = in_progress(app, second_doctor, make_patient(app, fnr="17054026641", last_name="Other"))
    slot = slot_ids(app, consultation["service_id"])[3]
    outcomes, start = [], threading.Barrier(2)

    def book(consultation_id, doctor_id):
        with app.app_context():
            start.wait()
            try:
                services.book_follow_up_appointment(consultations.get_consultation(consultation_id),
                                                    doctor_id=doctor_id, slot_id=slot)
                outcomes.append("booked")
            except SlotTaken:
                outcomes.append("taken")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=book, args=args)
               for args in ((consultation["id"], consultation["doctor_id"]), (second, second_doctor))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked", "taken"]
    assert len(follow_ups(app)) == 1 and len(messages(app, "follow_up.appointment")) == 1


def test_a_slot_in_the_past_or_unknown_is_refused(app, consultation, doctor):
    from portal.scheduling.models import Slot

    response = book_appointment(doctor, consultation, 2**30)
    assert response.status_code == 409 and "can no longer be booked" in response.get_data(as_text=True)
    slot = slot_ids(app, consultation["service_id"])[1]
    with app.app_context():
        row = db.session.get(Slot, slot)
        row.start, row.end = datetime(2020, 1, 1, 9), datetime(2020, 1, 1, 9, 15)
        db.session.commit()
    assert book_appointment(doctor, consultation, slot).status_code == 409
    response = book_appointment(doctor, consultation, "")
    assert response.status_code == 422 and "Choose a time." in response.get_data(as_text=True)
    assert follow_ups(app) == []
