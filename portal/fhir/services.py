"""FHIR provider rules on top of the scheduling core. No Flask request here."""

import json
import uuid
from collections import namedtuple
from datetime import datetime
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, distinct, func, select

from portal.extensions import db
from portal.fhir import resources, search as params
from portal.fhir.parsing import AppointmentIn
from portal.patients.models import Patient
from portal.patients.services import (
    add_unidentified_patient,
    fetch_or_create_patient_by_nhs_number,
    find_patient_by_nhs_number,
)
from portal.scheduling import services as scheduling
from portal.scheduling.models import (
    Appointment,
    AppointmentVersion,
    HealthcareService,
    Location,
    Practitioner,
    Schedule,
)
from portal.security.models import utcnow

SEARCH_LIMIT = 5000


class TooManySlots(Exception):
    """More slots match than one answer may hold; the client should narrow the window."""


def local_system(kind: str) -> str:
    """The identifier system of our own ids of a kind (patients without an NHS number, services): one
    URI per install, from PORTAL_URL, whatever host name a request came in by."""
    return f"{current_app.config['PORTAL_URL'].rstrip('/')}/fhir/stu3/Id/{kind}"


# --- Slot search --------------------------------------------------------------------------------------

def slot_search_bundle(search: params.SlotSearch, base_url: str) -> dict:
    """A searchset Bundle: the matching slots, plus the related resources the includes ask for, each once."""
    window = search.window
    slots = scheduling.search_slots(search.healthcare_service_id, start_from=window.start_from,
                                    start_to=window.start_to, status=search.statuses,
                                    start_not_within=tuple(window.not_within), limit=SEARCH_LIMIT + 1)
    if len(slots) > SEARCH_LIMIT:
        raise TooManySlots()
    entries = resources.slot_entries(base_url, slots)
    if params.SLOT_SCHEDULE in search.includes and slots:
        schedule_ids = {slot[2] for slot in slots}  # slot.schedule_id, by position: a Row's attribute costs more
        entries += _included(schedule_ids, search.includes, base_url)
    query = search.self_query()
    return resources.searchset(entries, total=len(slots), self_url=f"{base_url}/Slot" + (f"?{query}" if query else ""),
                               bundle_id=new_bundle_id())


def new_bundle_id() -> str:
    return str(uuid.uuid4())


def service_locations(service_ids) -> dict[int, int]:
    """The location of each service whose schedules are all at one place (the pages give a service one)."""
    rows = db.session.execute(
        select(Schedule.healthcare_service_id, func.min(Schedule.location_id),
               func.count(distinct(Schedule.location_id)))
        .where(Schedule.healthcare_service_id.in_(sorted(service_ids)))
        .group_by(Schedule.healthcare_service_id)).all()
    return {service_id: location_id for service_id, location_id, count in rows if count == 1}


# The parts of a row of _SCHEDULES_AND_ACTORS, in the order they are selected, and the columns of each:
# the resource builders read them by name (part.family_name), as they read a model.
_ACTOR_PARTS = {
    "schedule": (Schedule, ("id", "healthcare_service_id", "practitioner_id", "location_id", "active", "name")),
    "practitioner": (Practitioner, ("id", "family_name", "given_name", "prefix")),
    "location": (Location, ("id", "name", "address", "organisation_code")),
    "service": (HealthcareService, ("id", "name", "active", "organisation_code")),
}
_ACTOR_PART_TUPLES = {part: namedtuple(part, columns) for part, (_, columns) in _ACTOR_PARTS.items()}


def _schedules_and_actors():
    """The slots' schedules with their practitioner, location and service, and how many places the schedules
    of that service are at (with the lowest: a service at one place has that location). A Core statement of
    columns: the ORM's layers (entities, or column bundles) cost more than the query."""
    tables = {part: model.__table__ for part, (model, _) in _ACTOR_PARTS.items()}
    schedules, others = tables["schedule"], Schedule.__table__.alias("service_schedules")
    at_service = others.c.healthcare_service_id == schedules.c.healthcare_service_id
    columns = [tables[part].c[column] for part, (_, names) in _ACTOR_PARTS.items() for column in names]
    return (
        select(*columns,
               select(func.count(distinct(others.c.location_id))).where(at_service).scalar_subquery().label("places"),
               select(func.min(others.c.location_id)).where(at_service).scalar_subquery().label("place"))
        .join_from(schedules, tables["service"], tables["service"].c.id == schedules.c.healthcare_service_id)
        .outerjoin(tables["practitioner"], tables["practitioner"].c.id == schedules.c.practitioner_id)
        .outerjoin(tables["location"], tables["location"].c.id == schedules.c.location_id)
        .where(schedules.c.id.in_(bindparam("schedule_ids", expanding=True))).order_by(schedules.c.id))


# Built once: building it for every search cost more than running it.
_SCHEDULES_AND_ACTORS = _schedules_and_actors()


def _actor_parts(row) -> SimpleNamespace:
    """A row of _SCHEDULES_AND_ACTORS as row.schedule, row.practitioner, row.location, row.service (each
    a named tuple), row.places and row.place."""
    parts, at = {}, 0
    for part, (_, columns) in _ACTOR_PARTS.items():
        parts[part] = _ACTOR_PART_TUPLES[part]._make(row[at:at + len(columns)])
        at += len(columns)
    return SimpleNamespace(**parts, places=row.places, place=row.place)


def _included(schedule_ids: set[int], includes: set[str], base_url: str) -> list[dict]:
    """The schedules of the slots and what the includes reach from them, in FHIR's iterate sense (a
    service's organisation and location only through an included service); never one resource twice,
    however many slots or includes lead to it."""
    rows = [_actor_parts(row) for row in db.session.execute(_SCHEDULES_AND_ACTORS,
                                                            {"schedule_ids": sorted(schedule_ids)})]
    found: dict[str, dict] = {}

    def add(resource: dict) -> None:
        key = f"{resource['resourceType']}/{resource['id']}"
        if key not in found:
            found[key] = resources.entry(base_url, resource, "include")

    for row in rows:
        add(resources.schedule_resource(row.schedule))
    for row in rows:
        if row.practitioner.id is not None:
            if params.PRACTITIONER in includes:
                add(resources.practitioner_resource(row.practitioner))
            if params.PRACTITIONER_ROLE in includes:
                add(resources.practitioner_role_resource(row.schedule, row.service.organisation_code))
        elif row.location.id is not None and params.LOCATION in includes:
            add(resources.location_resource(row.location))
    if params.HEALTHCARE_SERVICE not in includes:
        return list(found.values())
    services = {row.service.id: row.service for row in rows}
    locations = {row.service.id: row.place for row in rows if row.places == 1}
    system = local_system("healthcare-service")
    for service_id in sorted(services):
        add(resources.healthcare_service_resource(services[service_id], system, locations.get(service_id)))
    if params.ORGANIZATION in includes:
        for code in sorted({service.organisation_code for service in services.values()}):
            add(resources.organization_resource(code))
    if params.SERVICE_LOCATION in includes and locations:
        known = {row.location.id: row.location for row in rows if row.location.id is not None}
        missing = set(locations.values()) - set(known)
        if missing:
            known |= {loc.id: loc for loc in db.session.scalars(select(Location).where(Location.id.in_(missing)))}
        for location_id in sorted(set(locations.values())):
            add(resources.location_resource(known[location_id]))
    return list(found.values())


# --- reads --------------------------------------------------------------------------------------------

def _read_service(service_id) -> dict | None:
    service = db.session.get(HealthcareService, service_id)
    if service is None:
        return None
    return resources.healthcare_service_resource(service, local_system("healthcare-service"),
                                                 service_locations([service.id]).get(service.id))


def _read_role(schedule_id) -> dict | None:
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or not schedule.practitioner_id:
        return None
    return resources.practitioner_role_resource(schedule, schedule.healthcare_service.organisation_code)


def _read_organization(code) -> dict | None:
    known = db.session.scalar(select(HealthcareService.id).where(HealthcareService.organisation_code == code)
                              .limit(1)) or db.session.scalar(
        select(Location.id).where(Location.organisation_code == code).limit(1))
    return resources.organization_resource(code) if known else None


def _read_model(model, build):
    def read(resource_id):
        row = db.session.get(model, resource_id)
        return None if row is None else build(row)

    return read


READERS = {
    "Schedule": _read_model(Schedule, resources.schedule_resource),
    "Practitioner": _read_model(Practitioner, resources.practitioner_resource),
    "Location": _read_model(Location, resources.location_resource),
    "HealthcareService": _read_service,
    "PractitionerRole": _read_role,
    "Organization": _read_organization,
}


def read_resource(kind: str, resource_id) -> dict | None:
    """A Schedule, Practitioner, PractitionerRole, Location, HealthcareService or Organization as FHIR,
    or None when there is none with that id."""
    return READERS[kind](resource_id)


# --- Appointments -------------------------------------------------------------------------------------

class ContainedSlotMismatch(Exception):
    """The contained Slot's start, end or schedule are not those of the slot its identifier names."""


def resolve_slot(incoming: AppointmentIn) -> int:
    """Our slot's id: by `Slot/<id>`, or by the contained Slot's identifier, whose start, end and schedule
    must be the slot's. SlotNotFound / ContainedSlotMismatch otherwise."""
    if incoming.slot_id is not None:
        return incoming.slot_id
    slot = scheduling.find_slot_by_uuid(incoming.slot_uuid)
    if slot is None:
        raise scheduling.SlotNotFound(str(incoming.slot_uuid))
    described = incoming.contained_slot
    if (described.start, described.end) != (slot.start, slot.end) or described.schedule_id != slot.schedule_id:
        raise ContainedSlotMismatch(slot.id)
    return slot.id


def book_appointment(incoming: AppointmentIn, actor: tuple[str, str]) -> Appointment:
    """Book the slot for the patient: the one of this NHS number (created on first sight), or a new
    record for a patient sent without one. The contained Patient and DocumentReference are kept as sent.
    Raises the scheduling errors (SlotNotFound, SlotTaken, SlotMismatch, SlotInPast) and ContainedSlotMismatch;
    nothing is kept unless the booking succeeds."""
    slot_id = resolve_slot(incoming)
    if incoming.nhs_number:
        patient = fetch_or_create_patient_by_nhs_number(
            nhs_number=incoming.nhs_number, first_name=incoming.given_name, last_name=incoming.family_name,
            birth_date=incoming.birth_date)
    else:
        patient = add_unidentified_patient(first_name=incoming.given_name, last_name=incoming.family_name,
                                           birth_date=incoming.birth_date)
    db.session.flush()
    details = json.dumps({"patient": incoming.patient, "document": incoming.document,
                          "slot_id": incoming.contained_slot.id if incoming.contained_slot else None})
    return scheduling.book_slot(slot_id, patient_id=patient.id, actor=actor, start=incoming.start, end=incoming.end,
                                description=incoming.description, comment=incoming.comment, booked_details=details)


def _patient_resource(appointment: Appointment, sent: dict | None) -> dict:
    """The contained Patient: as the booking system sent it, with our local identifier when it sent none;
    built from our record for an appointment booked another way."""
    patient = appointment.patient
    if sent is not None:
        resource = dict(sent)
    else:
        resource = {"resourceType": "Patient", "id": "P1", "meta": {"profile": [resources.PROFILES["Patient"]]},
                    "name": [{"use": "official", "family": patient.last_name, "given": [patient.first_name]}]}
        if patient.birth_date:
            resource["birthDate"] = patient.birth_date.isoformat()
    if not resource.get("identifier"):
        if patient.national_id_kind == "nhs" and patient.national_id:
            resource["identifier"] = [resources.nhs_number_identifier(patient.national_id)]
        else:
            resource["identifier"] = [{"use": "usual", "system": local_system("patient"), "value": str(patient.id)}]
    return resource


def appointment_json(appointment: Appointment, version: AppointmentVersion | None = None) -> dict:
    """The Appointment as FHIR, at its current version or at `version`."""
    details = json.loads(appointment.booked_details) if appointment.booked_details else {}
    status = version.status if version is not None else appointment.status
    last_updated = version.recorded_at if version is not None else last_modified(appointment)
    slot = resources.contained_slot(appointment.slot, status, details.get("slot_id") or "slot1")
    return resources.appointment_resource(
        appointment, patient=_patient_resource(appointment, details.get("patient")), slot=slot,
        document=details.get("document"), status=status, version=version.version if version else None,
        last_updated=last_updated)


def last_modified(appointment: Appointment) -> datetime:
    recorded = db.session.scalar(select(AppointmentVersion.recorded_at).where(
        AppointmentVersion.appointment_id == appointment.id, AppointmentVersion.version == appointment.version))
    return recorded or appointment.cancelled_at or appointment.created_at


def patients_with_identifier(system: str, value: str) -> list[int]:
    """Our patients an identifier names: an NHS number, or our own local patient identifier."""
    if system == resources.NHS_NUMBER_SYSTEM:
        patient = find_patient_by_nhs_number(value.replace(" ", "")) if value.replace(" ", "").isdigit() else None
        return [patient.id] if patient else []
    if system == local_system("patient") and value.isdigit() and int(value) <= params.MAX_ID:
        return [int(value)] if db.session.get(Patient, int(value)) else []
    return []


def search_appointments(search: params.AppointmentSearch, booked_by: str) -> list[Appointment]:
    """A patient's appointments that have not ended yet (the page asks for no past ones), of those this
    client booked, soonest first; all of them: the page forbids paging."""
    patient_ids = patients_with_identifier(search.system, search.value)
    if not patient_ids:
        return []
    query = (select(Appointment).where(Appointment.patient_id.in_(patient_ids), Appointment.booked_by == booked_by,
                                       Appointment.end >= utcnow())
             .order_by(Appointment.start, Appointment.id))
    if search.appointment_id is not None:
        query = query.where(Appointment.id == search.appointment_id)
    return list(db.session.scalars(query))

