"""The secretary's diary and the admin's set-up, through the test client."""

import re
from datetime import time

from sqlalchemy import select

from portal.extensions import db
from portal.patients.services import fetch_or_create_patient_by_nhs_number
from portal.scheduling import services
from portal.scheduling.models import Schedule, Slot, WeeklyTemplate
from portal.security.models import AuditEvent
from tests.conftest import DIARY_MONDAY, VALID_NHS_NUMBER, slot_ids

HX = {"HX-Request": "true"}


def test_secretary_sees_the_week_of_a_schedule(staff_client, diary_set_up):
    secretary = staff_client("secretary")
    listing = secretary.get("/schedules").get_data(as_text=True)
    assert "Minor injuries — Dr Patel" in listing
    page = secretary.get(f"/schedules/{diary_set_up['schedule_id']}?view=week&day=2030-01-09")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Week of Monday, 7 January 2030" in html
    assert html.count(">free</span>") == 60
    assert "09:00" in html and "11:45" in html


def test_day_view_and_a_bad_date_falls_back_to_today(staff_client, diary_set_up):
    secretary = staff_client("secretary")
    day = secretary.get(f"/schedules/{diary_set_up['schedule_id']}?day={DIARY_MONDAY}").get_data(as_text=True)
    assert day.count(">free</span>") == 12
    assert secretary.get(f"/schedules/{diary_set_up['schedule_id']}?day=not-a-date").status_code == 200
    assert secretary.get(f"/schedules/{diary_set_up['schedule_id']}?day=2030-02-30&view=week").status_code == 200


def test_booked_slot_shows_the_patient_and_the_read_is_audited(app, staff_client, diary_set_up):
    slot_id = slot_ids(app)[0]
    with app.app_context():
        patient = fetch_or_create_patient_by_nhs_number(nhs_number=VALID_NHS_NUMBER, first_name="Amy",
                                                        last_name="Able")
        db.session.commit()
        services.book_slot(slot_id, patient_id=patient.id, actor=("staff", "1"), description="Sprain")
        patient_id = patient.id
    secretary = staff_client("secretary")
    html = secretary.get(f"/schedules/{diary_set_up['schedule_id']}?day={DIARY_MONDAY}").get_data(as_text=True)
    assert "Amy Able" in html and ">booked</span>" in html
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "schedule.diary_viewed"))
        assert event.details["patient_ids"] == [patient_id]


def test_block_and_unblock_a_slot_in_place(app, staff_client, diary_set_up):
    slot_id = slot_ids(app)[0]
    secretary = staff_client("secretary")
    blocked = secretary.post(f"/slots/{slot_id}/block", headers=HX)
    html = blocked.get_data(as_text=True)
    assert blocked.status_code == 400  # no CSRF header: refused
    headers = {**HX, "X-CSRFToken": secretary.csrf}
    blocked = secretary.post(f"/slots/{slot_id}/block", headers=headers)
    html = blocked.get_data(as_text=True)
    assert blocked.status_code == 200 and "<html" not in html
    assert f'id="slot-{slot_id}"' in html and ">blocked</span>" in html and "Unblock" in html
    again = secretary.post(f"/slots/{slot_id}/block", headers=headers)
    assert again.status_code == 409 and "Not changed" in again.get_data(as_text=True)
    unblocked = secretary.post(f"/slots/{slot_id}/unblock", headers=headers)
    assert unblocked.status_code == 200 and ">free</span>" in unblocked.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Slot, slot_id).status == "free"
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert {"slot.blocked", "slot.unblocked"} <= actions


def test_block_works_without_htmx(app, staff_client, diary_set_up):
    slot_id = slot_ids(app)[0]
    secretary = staff_client("secretary")
    response = secretary.post(f"/slots/{slot_id}/block", data={"csrf_token": secretary.csrf})
    assert response.status_code == 302 and f"day={DIARY_MONDAY}" in response.headers["Location"]
    assert "Slot blocked." in secretary.get(response.headers["Location"]).get_data(as_text=True)


def test_doctors_and_strangers_may_not_use_the_diary(app, client, staff_client, diary_set_up):
    slot_id = slot_ids(app)[0]
    assert client.get("/schedules").status_code == 302
    doctor = staff_client("doctor")
    assert doctor.get("/schedules").status_code == 403
    assert doctor.get(f"/schedules/{diary_set_up['schedule_id']}").status_code == 403
    assert doctor.post(f"/slots/{slot_id}/block", headers={"X-CSRFToken": doctor.csrf}).status_code == 403
    assert staff_client("secretary").get("/scheduling/admin").status_code == 403


def test_unknown_schedule_and_slot_are_404(staff_client):
    secretary = staff_client("secretary")
    assert secretary.get("/schedules/999999").status_code == 404
    assert secretary.post("/slots/999999/block", headers={"X-CSRFToken": secretary.csrf}).status_code == 404


def _token(html: str, name: str) -> str:
    return re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]+)"', html).group(1)


def test_admin_sets_up_a_schedule_with_weekly_hours_and_generates_slots(app, staff_client):
    admin = staff_client("admin")
    page = admin.get("/scheduling/admin").get_data(as_text=True)
    created = admin.post("/scheduling/admin/schedules", data={
        "csrf_token": _token(page, "csrf_token"), "name": "Physio", "service_name": "Physiotherapy",
        "organisation_code": "rxx02", "location_name": "\u3000 ", "practitioner_given": "", "practitioner_family": "",
        "timezone": "Europe/London"})
    assert created.status_code == 302
    with app.app_context():
        schedule = db.session.scalar(select(Schedule))
        assert schedule.healthcare_service.organisation_code == "RXX02"
        assert schedule.location_id is None  # a location of only blanks is no location
    sid = schedule.id
    page = admin.get("/scheduling/admin").get_data(as_text=True)
    hours = admin.post(f"/scheduling/admin/schedules/{sid}/templates", data={
        f"t{sid}-csrf_token": _token(page, f"t{sid}-csrf_token"), f"t{sid}-weekday": "2",
        f"t{sid}-start_time": "13:00", f"t{sid}-end_time": "14:00", f"t{sid}-slot_minutes": "20"})
    assert hours.status_code == 302
    generated = admin.post(f"/scheduling/admin/schedules/{sid}/generate", data={
        f"g{sid}-csrf_token": _token(page, f"g{sid}-csrf_token"), f"g{sid}-first_day": "2030-01-07",
        f"g{sid}-last_day": "2030-01-20"})
    assert generated.status_code == 302
    assert "6 new slots" in admin.get("/scheduling/admin").get_data(as_text=True)


def test_admin_form_errors_are_shown_next_to_the_fields(app, staff_client, diary_set_up):
    admin = staff_client("admin")
    sid = diary_set_up["schedule_id"]
    page = admin.get("/scheduling/admin").get_data(as_text=True)
    bad_hours = admin.post(f"/scheduling/admin/schedules/{sid}/templates", data={
        f"t{sid}-csrf_token": _token(page, f"t{sid}-csrf_token"), f"t{sid}-weekday": "9",
        f"t{sid}-start_time": "14:00", f"t{sid}-end_time": "13:00", f"t{sid}-slot_minutes": "abc"})
    assert bad_hours.status_code == 422
    assert f'id="t{sid}-weekday-error"' in bad_hours.get_data(as_text=True)
    backwards = admin.post(f"/scheduling/admin/schedules/{sid}/generate", data={
        f"g{sid}-csrf_token": _token(page, f"g{sid}-csrf_token"), f"g{sid}-first_day": "2030-01-20",
        f"g{sid}-last_day": "2030-01-07"})
    assert backwards.status_code == 422 and "must not be before" in backwards.get_data(as_text=True)
    too_long = admin.post(f"/scheduling/admin/schedules/{sid}/generate", data={
        f"g{sid}-csrf_token": _token(page, f"g{sid}-csrf_token"), f"g{sid}-first_day": "2030-01-01",
        f"g{sid}-last_day": "2032-01-01"})
    assert too_long.status_code == 422 and "at most 366 days" in too_long.get_data(as_text=True)
    overlapping = admin.post(f"/scheduling/admin/schedules/{sid}/templates", data={
        f"t{sid}-csrf_token": _token(page, f"t{sid}-csrf_token"), f"t{sid}-weekday": "0",
        f"t{sid}-start_time": "11:00", f"t{sid}-end_time": "13:00", f"t{sid}-slot_minutes": "20"})
    assert overlapping.status_code == 422
    answer = overlapping.get_data(as_text=True)
    start_error = re.search(rf'id="t{sid}-start_time-error"[^>]*>(.*?)</', answer, re.S)
    assert start_error and "overlap 09:00–12:00" in start_error.group(1)
    half_name = admin.post("/scheduling/admin/schedules", data={
        "csrf_token": _token(page, "csrf_token"), "name": "X", "service_name": "Y", "organisation_code": "Z",
        "practitioner_given": "Only", "timezone": "Mars/Base"})
    assert half_name.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(WeeklyTemplate).where(WeeklyTemplate.weekday == 9)) is None
        assert db.session.scalar(select(WeeklyTemplate).where(WeeklyTemplate.start_time == time(11))) is None
        assert len(list(db.session.scalars(select(Schedule)))) == 1


def test_nav_links_follow_the_role(staff_client):
    assert "Scheduling set-up" in staff_client("admin").get("/schedules").get_data(as_text=True)
    secretary_page = staff_client("secretary").get("/schedules").get_data(as_text=True)
    assert "Schedules" in secretary_page and "Scheduling set-up" not in secretary_page


def _a_known_patient(app) -> int:
    with app.app_context():
        patient = fetch_or_create_patient_by_nhs_number(nhs_number=VALID_NHS_NUMBER, first_name="Amy",
                                                        last_name="Able")
        db.session.commit()
        return patient.id


def test_secretary_books_a_known_patient_into_a_free_slot_and_cancels(app, staff_client, diary_set_up):
    from portal.scheduling.models import Appointment

    _a_known_patient(app)
    slot_id = slot_ids(app)[0]
    secretary = staff_client("secretary")
    diary = secretary.get(f"/schedules/{diary_set_up['schedule_id']}?day={DIARY_MONDAY}").get_data(as_text=True)
    assert f"/slots/{slot_id}/book" in diary
    form = secretary.get(f"/slots/{slot_id}/book")
    assert form.status_code == 200
    booked = secretary.post(f"/slots/{slot_id}/book", data={"csrf_token": secretary.csrf,
                                                           "national_id": "943 476 5919", "description": "Knee"})
    assert booked.status_code == 302
    assert "Booked Amy Able" in secretary.get(booked.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        appointment = db.session.scalar(select(Appointment))
        assert appointment.booked_by.startswith("staff:") and appointment.description == "Knee"
    cancelled = secretary.post(f"/appointments/{appointment.id}/cancel",
                               headers={**HX, "X-CSRFToken": secretary.csrf})
    assert cancelled.status_code == 200 and ">free</span>" in cancelled.get_data(as_text=True)
    again = secretary.post(f"/appointments/{appointment.id}/cancel", headers={**HX, "X-CSRFToken": secretary.csrf})
    assert again.status_code == 409 and "Already cancelled" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Slot, slot_id).status == "free"


def test_staff_booking_of_a_taken_slot_or_an_unknown_patient_is_refused(app, staff_client, diary_set_up):
    patient_id = _a_known_patient(app)
    slot_id = slot_ids(app)[0]
    secretary = staff_client("secretary")
    unknown = secretary.post(f"/slots/{slot_id}/book", data={"csrf_token": secretary.csrf,
                                                            "national_id": "4010232137"})
    assert unknown.status_code == 422 and "No patient with this national id" in unknown.get_data(as_text=True)
    nonsense = secretary.post(f"/slots/{slot_id}/book", data={"csrf_token": secretary.csrf, "national_id": "abc"})
    assert nonsense.status_code == 422
    empty = secretary.post(f"/slots/{slot_id}/book", data={"csrf_token": secretary.csrf})
    assert empty.status_code == 422 and 'id="national_id-error"' in empty.get_data(as_text=True)
    with app.app_context():
        services.book_slot(slot_id, patient_id=patient_id, actor=("staff", "1"))
    late = secretary.post(f"/slots/{slot_id}/book", data={"csrf_token": secretary.csrf,
                                                         "national_id": VALID_NHS_NUMBER})
    assert late.status_code == 409 and "no longer free" in late.get_data(as_text=True)
    assert secretary.get("/slots/999999/book").status_code == 404
    assert secretary.post("/appointments/999999/cancel", headers={"X-CSRFToken": secretary.csrf}).status_code == 404


def test_doctors_may_not_book_or_cancel_from_the_diary(app, staff_client, diary_set_up):
    doctor = staff_client("doctor")
    slot_id = slot_ids(app)[0]
    assert doctor.get(f"/slots/{slot_id}/book").status_code == 403
    assert doctor.post("/appointments/1/cancel", headers={"X-CSRFToken": doctor.csrf}).status_code == 403


def test_ids_too_big_for_the_database_are_404(staff_client):
    secretary = staff_client("secretary")
    assert secretary.get("/schedules/99999999999999").status_code == 404
    assert secretary.get("/slots/99999999999999/book").status_code == 404
