"""The booking service: one free slot, one appointment, whoever asks."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.patients.services import fetch_or_create_patient_by_nhs_number
from portal.scheduling import services
from portal.scheduling.models import Appointment, Slot, WeeklyTemplate
from portal.security.models import AuditEvent
from tests.conftest import VALID_NHS_NUMBER, slot_ids

STAFF = ("staff", "1")


def a_patient() -> int:
    patient = fetch_or_create_patient_by_nhs_number(nhs_number=VALID_NHS_NUMBER, first_name="Amy",
                                                    last_name="Able")
    db.session.commit()
    return patient.id


def test_booking_a_free_slot_makes_it_busy_and_audits(app, app_ctx, diary_set_up):
    slot_id = slot_ids(app)[0]
    appointment = services.book_slot(slot_id, patient_id=a_patient(), actor=STAFF, description="Sprained ankle")
    slot = db.session.get(Slot, slot_id)
    db.session.refresh(slot)
    assert slot.status == "busy" and slot.version == 2
    assert appointment.status == "booked" and appointment.active_slot_id == slot_id
    assert appointment.start == slot.start and appointment.end == slot.end
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.booked"))
    assert event.actor_type == "staff" and event.patient_id == appointment.patient_id


def test_a_taken_slot_cannot_be_booked_again(app, app_ctx, diary_set_up):
    slot_id = slot_ids(app)[0]
    patient_id = a_patient()
    services.book_slot(slot_id, patient_id=patient_id, actor=STAFF)
    with pytest.raises(services.SlotTaken):
        services.book_slot(slot_id, patient_id=patient_id, actor=STAFF)
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1


def test_a_blocked_slot_cannot_be_booked(app, app_ctx, diary_set_up):
    slot_id = slot_ids(app)[0]
    services.block_slot(slot_id, actor=STAFF)
    with pytest.raises(services.SlotTaken):
        services.book_slot(slot_id, patient_id=a_patient(), actor=STAFF)


def test_unknown_slot_is_not_found(app_ctx, diary_set_up):
    with pytest.raises(services.SlotNotFound):
        services.book_slot(999999, patient_id=a_patient(), actor=STAFF)


def test_start_and_end_must_match_the_slot(app, app_ctx, diary_set_up):
    slot_id = slot_ids(app)[0]
    slot = db.session.get(Slot, slot_id)
    with pytest.raises(services.SlotMismatch):
        services.book_slot(slot_id, patient_id=a_patient(), actor=STAFF, start=slot.start,
                           end=slot.end + timedelta(minutes=5))
    db.session.refresh(slot)
    assert slot.status == "free"


def test_cancelling_frees_the_slot_for_the_next_patient(app, app_ctx, diary_set_up):
    slot_id = slot_ids(app)[0]
    patient_id = a_patient()
    first = services.book_slot(slot_id, patient_id=patient_id, actor=STAFF)
    cancelled = services.cancel_appointment(first.id, actor=STAFF)
    assert cancelled.status == "cancelled" and cancelled.active_slot_id is None and cancelled.cancelled_at
    assert db.session.get(Slot, slot_id).status == "free"
    second = services.book_slot(slot_id, patient_id=patient_id, actor=STAFF)
    assert second.id != first.id
    with pytest.raises(services.AlreadyCancelled):
        services.cancel_appointment(first.id, actor=STAFF)
    assert db.session.get(Slot, slot_id).status == "busy"  # the late cancel did not free the new booking


def test_the_database_refuses_a_second_live_appointment_on_a_slot(app, app_ctx, diary_set_up):
    """Even code that skipped the conditional update could not double-book: active_slot_id is unique."""
    from sqlalchemy.exc import IntegrityError

    slot_id = slot_ids(app)[0]
    patient_id = a_patient()
    appointment = services.book_slot(slot_id, patient_id=patient_id, actor=STAFF)
    db.session.add(Appointment(slot_id=slot_id, active_slot_id=slot_id, patient_id=patient_id,
                               start=appointment.start, end=appointment.end, booked_by="test"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_only_a_free_slot_can_be_blocked_and_only_a_blocked_one_unblocked(app, app_ctx, diary_set_up):
    first, second = slot_ids(app)[:2]
    services.book_slot(first, patient_id=a_patient(), actor=STAFF)
    with pytest.raises(services.SlotNotChangeable):
        services.block_slot(first, actor=STAFF)
    with pytest.raises(services.SlotNotChangeable):
        services.unblock_slot(second, actor=STAFF)
    assert services.block_slot(second, actor=STAFF).status == "busy-unavailable"
    assert services.unblock_slot(second, actor=STAFF).status == "free"


def test_search_finds_free_slots_of_one_service_in_a_window(app, app_ctx, diary_set_up):
    service_id = diary_set_up["service_id"]
    from datetime import datetime

    monday = datetime(2030, 1, 7)
    found = services.search_slots(service_id, start_from=monday, start_to=monday + timedelta(hours=23))
    assert len(found) == 12 and found == sorted(found, key=lambda s: s.start)
    services.block_slot(found[0].id, actor=STAFF)
    assert len(services.search_slots(service_id, start_from=monday, start_to=monday + timedelta(hours=23))) == 11
    assert services.search_slots(service_id + 1000) == []


# --- generation ----------------------------------------------------------------------------------

def test_generation_follows_the_weekly_hours_and_is_idempotent(app, app_ctx, diary_set_up):
    schedule_id = diary_set_up["schedule_id"]
    assert len(slot_ids(app)) == 5 * 12
    monday = date(2030, 1, 7)
    assert services.generate_slots(schedule_id, monday, monday + timedelta(days=6)) == 0
    assert services.generate_slots(schedule_id, monday, monday + timedelta(days=13)) == 60
    assert len(slot_ids(app)) == 120


def test_generation_uses_the_schedules_time_zone_across_summer_time(app, app_ctx, diary_set_up):
    schedule_id = diary_set_up["schedule_id"]
    summer_monday = date(2030, 7, 1)  # BST: 09:00 in London is 08:00 UTC
    services.generate_slots(schedule_id, summer_monday, summer_monday)
    first = db.session.scalar(select(Slot).where(Slot.start >= summer_monday).order_by(Slot.start))
    assert first.start.time() == time(8, 0) and first.end.time() == time(8, 15)


def test_generation_refuses_bad_ranges(app_ctx, diary_set_up):
    schedule_id = diary_set_up["schedule_id"]
    with pytest.raises(services.InvalidSchedule):
        services.generate_slots(schedule_id, date(2030, 1, 10), date(2030, 1, 9))
    with pytest.raises(services.InvalidSchedule):
        services.generate_slots(schedule_id, date(2030, 1, 1), date(2031, 6, 1))
    with pytest.raises(services.InvalidSchedule):
        services.generate_slots(999999, date(2030, 1, 1), date(2030, 1, 2))


def test_weekly_hours_must_make_sense(app_ctx, diary_set_up):
    schedule_id = diary_set_up["schedule_id"]
    for kwargs in ({"weekday": 7}, {"slot_minutes": 0}, {"start_time": time(12), "end_time": time(9)}):
        values = {"weekday": 0, "start_time": time(9), "end_time": time(12), "slot_minutes": 15, **kwargs}
        with pytest.raises(services.InvalidSchedule):
            services.add_weekly_template(schedule_id, **values)


def test_weekly_hours_may_not_overlap_hours_of_the_same_weekday(app_ctx, diary_set_up):
    schedule_id = diary_set_up["schedule_id"]  # Monday to Friday 09:00-12:00
    with pytest.raises(services.InvalidSchedule, match="09:00–12:00") as refused:
        services.add_weekly_template(schedule_id, weekday=0, start_time=time(11, 30), end_time=time(13),
                                     slot_minutes=15)
    assert refused.value.field == "start_time"
    with pytest.raises(services.InvalidSchedule):  # inside
        services.add_weekly_template(schedule_id, weekday=0, start_time=time(10), end_time=time(11), slot_minutes=15)
    with pytest.raises(services.InvalidSchedule):  # around
        services.add_weekly_template(schedule_id, weekday=0, start_time=time(8), end_time=time(13), slot_minutes=15)
    # right after, right before, and another day are fine
    services.add_weekly_template(schedule_id, weekday=0, start_time=time(12), end_time=time(13), slot_minutes=15)
    services.add_weekly_template(schedule_id, weekday=0, start_time=time(8), end_time=time(9), slot_minutes=15)
    services.add_weekly_template(schedule_id, weekday=5, start_time=time(10), end_time=time(11), slot_minutes=15)
    monday = db.session.scalars(select(WeeklyTemplate).where(WeeklyTemplate.schedule_id == schedule_id,
                                                             WeeklyTemplate.weekday == 0)).all()
    assert sorted((t.start_time, t.end_time) for t in monday) == [
        (time(8), time(9)), (time(9), time(12)), (time(12), time(13))]


def test_generate_slots_command(app, diary_set_up):
    result = app.test_cli_runner().invoke(args=["generate-slots", "--schedule", str(diary_set_up["schedule_id"]),
                                                "--from", "2030-01-14", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "60 new slots" in result.output
    assert len(slot_ids(app)) == 120
    missing = app.test_cli_runner().invoke(args=["generate-slots", "--schedule", "999999"])
    assert missing.exit_code != 0


def test_a_slot_that_has_started_cannot_be_booked(app, app_ctx, diary_set_up):
    from datetime import datetime

    services.generate_slots(diary_set_up["schedule_id"], date(2020, 1, 6), date(2020, 1, 6))
    old = db.session.scalar(select(Slot).where(Slot.start < datetime(2021, 1, 1)))
    with pytest.raises(services.SlotInPast):
        services.book_slot(old.id, patient_id=a_patient(), actor=STAFF)
