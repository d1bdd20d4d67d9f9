"""Demo check-in for `make run`: a travel-pay clinic, an appointment starting soon for Line Danser
(booked through `book_slot`), and a fresh check-in link printed in the banner. Idempotent."""

from datetime import timedelta

from sqlalchemy import delete, select

from portal.checkin import services
from portal.checkin.models import CheckinLink
from portal.extensions import db
from portal.patients.services import find_patient_by_fodselsnummer
from portal.scheduling import services as scheduling
from portal.scheduling.models import BOOKED, Appointment, Schedule, Slot
from portal.security.models import utcnow

DEMO_CLINIC = "Travel clinic — Dr Nilsen"
DEMO_FNR = "13116900216"  # Line Danser, born 1969-11-13 (synthetic)
DEMO_LINK_KIND = "demo"


def _clinic() -> Schedule:
    schedule = db.session.scalar(select(Schedule).where(Schedule.name == DEMO_CLINIC))
    if schedule is None:
        schedule = scheduling.set_up_schedule(
            name=DEMO_CLINIC, service_name="Outpatient clinic", organisation_code="RXX03",
            location_name="Harbour Health Centre", practitioner_given="Nora", practitioner_family="Nilsen")
    schedule.location.travel_pay_enabled = True
    schedule.location.address = "2 Quay Street"
    db.session.commit()
    return schedule


def _appointment_soon(schedule: Schedule, patient_id: int) -> Appointment:
    """Reuse a booked appointment whose check-in is open; otherwise book one 20 minutes from now."""
    now = utcnow()
    booked = db.session.scalar(
        select(Appointment).join(Slot, Appointment.slot_id == Slot.id)
        .where(Slot.schedule_id == schedule.id, Appointment.patient_id == patient_id, Appointment.status == BOOKED,
               Appointment.start > now + timedelta(minutes=5), Appointment.start <= now + timedelta(minutes=40)))
    if booked is not None:
        return booked
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=20)
    slot = db.session.scalar(select(Slot).where(Slot.schedule_id == schedule.id, Slot.start == start))
    if slot is None:
        slot = Slot(schedule_id=schedule.id, healthcare_service_id=schedule.healthcare_service_id, start=start,
                    end=start + timedelta(minutes=15), status="free")
        db.session.add(slot)
        db.session.commit()
    return scheduling.book_slot(slot.id, patient_id=patient_id, actor=("system", "demo"),
                                description="Demo appointment for check-in")


def load_demo_checkin() -> list[str]:
    patient = find_patient_by_fodselsnummer(DEMO_FNR)
    if patient is None:
        return []
    patient.home_address = patient.home_address or "1 Fjord Road\nBergen"
    patient.emergency_contact = patient.emergency_contact or "Ola Danser, +4790000001"
    patient.next_of_kin = patient.next_of_kin or "Kari Danser (sister)"
    db.session.commit()
    schedule = _clinic()
    appointment = _appointment_soon(schedule, patient.id)
    day = services.local_date(appointment)
    db.session.execute(delete(CheckinLink).where(CheckinLink.patient_id == patient.id,
                                                 CheckinLink.appointment_date == day,
                                                 CheckinLink.kind == DEMO_LINK_KIND))
    raw = services.create_link(patient.id, day, DEMO_LINK_KIND)
    db.session.commit()
    at = services.local_time(appointment, appointment.start).strftime("%H:%M")
    return [f"Check-in: Line Danser (last name Danser, born 1969-11-13) has an appointment at {at} "
            "at a travel-pay clinic:",
            f"  {services.checkin_url(raw)}",
            "  The claim is filed TRAVEL_CLAIM_DELAY_SECONDS after check-in; watch the SMS on the sandbox /outbox."]
