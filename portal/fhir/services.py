"""FHIR provider rules on top of the scheduling core. No Flask request here."""

from sqlalchemy import select

from portal.extensions import db
from portal.fhir import resources
from portal.fhir.parsing import AppointmentIn, SlotSearch
from portal.patients.services import fetch_or_create_patient_by_nhs_number
from portal.scheduling import services as scheduling
from portal.scheduling.models import Appointment, HealthcareService, Location, Practitioner, Schedule

SEARCH_LIMIT = 5000


class TooManySlots(Exception):
    """More slots match than one answer may hold; the client should narrow the window."""


def slot_search_bundle(search: SlotSearch, base_url: str) -> dict:
    """A searchset Bundle: the matching slots, plus their schedules and actors when asked to include them."""
    slots = scheduling.search_slots(search.healthcare_service_id, start_from=search.start_from,
                                    start_to=search.start_to, status=search.status, limit=SEARCH_LIMIT + 1)
    if len(slots) > SEARCH_LIMIT:
        raise TooManySlots()
    entries = resources.slot_entries(base_url, slots)
    if search.include_schedule and slots:
        entries += _schedule_entries({slot.schedule_id for slot in slots}, search.include_actors, base_url)
    return resources.searchset(entries, total=len(slots))


def _schedule_entries(schedule_ids: set[int], kinds: set[str], base_url: str) -> list[dict]:
    """The schedules and the actors asked for, from one query (search is the API's hottest path)."""
    rows = db.session.execute(
        select(Schedule, Practitioner, Location, HealthcareService)
        .join(HealthcareService, HealthcareService.id == Schedule.healthcare_service_id)
        .outerjoin(Practitioner, Practitioner.id == Schedule.practitioner_id)
        .outerjoin(Location, Location.id == Schedule.location_id)
        .where(Schedule.id.in_(sorted(schedule_ids))).order_by(Schedule.id)).all()
    entries = [resources.entry(base_url, resources.schedule_resource(row.Schedule), "include") for row in rows]
    for kind, build in (("Practitioner", resources.practitioner_resource), ("Location", resources.location_resource),
                        ("HealthcareService", resources.healthcare_service_resource)):
        if kind in kinds:
            actors = {actor.id: actor for actor in (getattr(row, kind) for row in rows) if actor is not None}
            entries += [resources.entry(base_url, build(actors[i]), "include") for i in sorted(actors)]
    return entries


def book_appointment(incoming: AppointmentIn, actor: tuple[str, str]) -> Appointment:
    """Book the slot for the patient of this NHS number (created on first sight, only if the booking
    succeeds). Raises the scheduling errors: SlotNotFound, SlotTaken, SlotMismatch, SlotInPast."""
    patient = fetch_or_create_patient_by_nhs_number(
        nhs_number=incoming.nhs_number, first_name=incoming.given_name, last_name=incoming.family_name,
        birth_date=incoming.birth_date,
    )
    db.session.flush()
    return scheduling.book_slot(incoming.slot_id, patient_id=patient.id, actor=actor, start=incoming.start,
                                end=incoming.end, description=incoming.description, comment=incoming.comment)


def appointment_json(appointment: Appointment) -> dict:
    patient = appointment.patient
    nhs_number = patient.national_id if patient.national_id_kind == "nhs" else None
    return resources.appointment_resource(appointment, nhs_number)


READABLE = {
    "Schedule": (Schedule, resources.schedule_resource),
    "Practitioner": (Practitioner, resources.practitioner_resource),
    "Location": (Location, resources.location_resource),
    "HealthcareService": (HealthcareService, resources.healthcare_service_resource),
}


def read_resource(kind: str, resource_id: int) -> dict | None:
    """A Schedule, Practitioner, Location or HealthcareService as FHIR, or None when there is none with that id."""
    model, build = READABLE[kind]
    row = db.session.get(model, resource_id)
    return None if row is None else build(row)
