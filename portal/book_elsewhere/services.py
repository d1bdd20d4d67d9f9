"""Booking at another service (the consumer side): find a service in the service directory, resolve
its FHIR endpoint in the endpoint directory, verify the patient's NHS number with the demographics
service, then search free slots and book one at that provider. No Flask request here."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.book_elsewhere import clients
from portal.book_elsewhere.models import RemoteBooking
from portal.extensions import db
from portal.fhir.parsing import parse_datetime
from portal.fhir.resources import PROFILES, UUID_SYSTEM, nhs_number_identifier
from portal.patients.identifiers import InvalidIdentifier, normalise_nhs_number
from portal.security import audit
from portal.security.models import utcnow
from portal.triage.services import finish_triage_elsewhere

ExternalSystemError = clients.ExternalSystemError


class PersonNotFound(Exception):
    pass


class ServiceNotFound(Exception):
    pass


class RemoteBookingRefused(Exception):
    """Nothing was booked: the provider said no, or answered without a booked appointment. The message is
    why: the provider's own diagnostics, else ours in the reader's language."""


class RemoteSlotTaken(RemoteBookingRefused):
    """The provider answered 422: the slot is gone (or the booking was not acceptable)."""


class RemoteChangeRefused(Exception):
    """The provider refused a cancellation (409: changed meanwhile, 412, 422); the reason is the message."""


@dataclass(frozen=True)
class Person:
    nhs_number: str
    family: str
    given: str
    birth_date: str | None


@dataclass(frozen=True)
class RemoteService:
    directory_id: str
    name: str
    ods_code: str
    healthcare_service_id: str
    endpoint: str
    token_url: str
    asid: str = ""

    def client(self) -> clients.RemoteProviderClient:
        return clients.RemoteProviderClient(self.endpoint, self.token_url, self.asid)


@dataclass(frozen=True)
class RemoteSlot:
    id: str
    start: datetime
    end: datetime
    practitioner: str | None = None
    location: str | None = None
    identifier: str | None = None  # the slot's UUID (Slot.identifier, RFC 4122), which books it
    schedule: str | None = None  # "Schedule/<id>"


def verify_person(nhs_number: str) -> Person:
    """The registered person with this NHS number, per the demographics service; the look-up is audited."""
    try:
        normalised = normalise_nhs_number(nhs_number)
    except InvalidIdentifier:
        raise PersonNotFound(nhs_number) from None
    try:
        found = clients.DemographicsClient().person(normalised)
    except clients.NotFound:
        raise PersonNotFound(normalised) from None
    audit.record_read("pds.person_viewed")
    return Person(nhs_number=normalised, family=str(found.get("family", "")), given=str(found.get("given", "")),
                  birth_date=found.get("birthDate"))


def find_services(postcode: str) -> list[dict]:
    return clients.ServiceDirectoryClient().check_capacity_summary(postcode)


def resolve_service(directory_id: str) -> RemoteService:
    try:
        details = clients.ServiceDirectoryClient().service_details(directory_id)
        endpoint = clients.EndpointDirectoryClient().endpoint_for(str(details.get("asid", "")))
    except clients.NotFound:
        raise ServiceNotFound(directory_id) from None
    return RemoteService(directory_id=directory_id, name=str(details.get("name", "")),
                         ods_code=str(details.get("odsCode", "")),
                         healthcare_service_id=str(details.get("healthcareServiceId", "")),
                         endpoint=str(endpoint["endpoint"]), token_url=str(endpoint["tokenUrl"]),
                         asid=str(details.get("asid", "")))


def _actor_names(bundle: dict) -> tuple[dict, dict]:
    resources = {}
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        resources[f"{resource.get('resourceType')}/{resource.get('id')}"] = resource
    def location_name(holder: dict) -> str | None:
        for reference in holder.get("location", []):
            found = resources.get(reference.get("reference", ""), {})
            if found.get("name"):
                return found["name"]
        return None

    schedule_actors = {}
    for key, resource in resources.items():
        if resource.get("resourceType") == "Schedule":
            names = {"practitioner": None, "location": None}
            for actor in resource.get("actor", []):
                target = resources.get(actor.get("reference", ""), {})
                kind = target.get("resourceType")
                if kind == "Practitioner" and target.get("name"):
                    name = target["name"][0]
                    names["practitioner"] = " ".join([*name.get("given", []), name.get("family", "")]).strip()
                elif kind == "Location":
                    names["location"] = target.get("name")
                elif kind in ("PractitionerRole", "HealthcareService") and not names["location"]:
                    # The place is the practitioner's role's, or else the service's (its one location).
                    names["location"] = location_name(target)
            schedule_actors[key] = names
    return resources, schedule_actors


def free_slots(service: RemoteService, *, days: int = 7) -> list[RemoteSlot]:
    """The provider's free slots for the service from now over the next `days` days, soonest first."""
    now = utcnow().replace(microsecond=0)
    start = f"{now.isoformat()}Z"
    end = f"{(now + timedelta(days=days)).isoformat()}Z"
    bundle = service.client().search_free_slots(service.healthcare_service_id, start, end)
    return slots_in(bundle, now=now)


def slots_in(bundle: dict, *, now: datetime) -> list[RemoteSlot]:
    """The free slots a provider's search bundle lists that start after `now` (naive UTC), soonest first.

    A provider may still list a slot that has started (its clock, its own rules, or the seconds the
    answer took): booking it would fail there, so it is never offered here."""
    resources, actors = _actor_names(bundle)
    slots = []
    for resource in resources.values():
        if resource.get("resourceType") != "Slot":
            continue
        try:
            slot_start, slot_end = parse_datetime(resource["start"]), parse_datetime(resource["end"])
        except (KeyError, TypeError, ValueError):
            continue  # a slot we cannot read is a slot we do not offer
        if slot_start <= now:
            continue
        schedule = str((resource.get("schedule") or {}).get("reference", ""))
        names = actors.get(schedule, {})
        identifiers = [i.get("value") for i in resource.get("identifier", []) if isinstance(i, dict)
                       and i.get("system") == UUID_SYSTEM and isinstance(i.get("value"), str)]
        slots.append(RemoteSlot(id=str(resource.get("id")), start=slot_start, end=slot_end,
                                practitioner=names.get("practitioner"), location=names.get("location"),
                                identifier=identifiers[0] if identifiers else None, schedule=schedule or None))
    return sorted(slots, key=lambda s: (s.start, s.id))


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "+00:00"


def appointment_for(person: Person, slot: RemoteSlot, description: str | None) -> dict:
    """The Appointment to POST, in the booking example's form (appointment.html): a contained Patient
    (the NHS number we verified with the demographics service, so its status is 01) and, when the
    provider gave the slot an identifier, a contained Slot with it, its start, end and schedule;
    `Slot/<id>` otherwise."""
    patient = {"resourceType": "Patient", "id": "P1", "meta": {"profile": [PROFILES["Patient"]]},
               "identifier": [nhs_number_identifier(person.nhs_number, "01")],
               "name": [{"use": "official", "family": person.family, "given": [person.given]}]}
    if person.birth_date:
        patient["birthDate"] = person.birth_date
    contained = [patient]
    reference = f"Slot/{slot.id}"
    if slot.identifier and slot.schedule:
        contained.append({"resourceType": "Slot", "id": "slot1", "meta": {"profile": [PROFILES["Slot"]]},
                          "identifier": [{"system": UUID_SYSTEM, "value": slot.identifier}],
                          "schedule": {"reference": slot.schedule}, "status": "busy",
                          "start": _instant(slot.start), "end": _instant(slot.end)})
        reference = "#slot1"
    return {"resourceType": "Appointment", "meta": {"profile": [PROFILES["Appointment"]]}, "contained": contained,
            "status": "booked", "description": description or "Booked by Care Portal",
            "start": _instant(slot.start), "end": _instant(slot.end), "slot": [{"reference": reference}],
            "participant": [{"actor": {"reference": "#P1"}, "status": "accepted"}]}


def _diagnostics(body: dict) -> str | None:
    """The first issue's diagnostics of an OperationOutcome: the provider's own words for what went wrong."""
    issues = body.get("issue") if isinstance(body.get("issue"), list) else []
    first = issues[0] if issues and isinstance(issues[0], dict) else {}
    text = first.get("diagnostics")
    return text if isinstance(text, str) and text.strip() else None


def book_at(service: RemoteService, person: Person, slot: RemoteSlot, description: str | None = None) -> dict:
    """Book the slot at the provider; returns its Appointment. RemoteSlotTaken says why on a 422, or at
    once when the slot has started meanwhile (the list was read before; the provider would refuse it)."""
    if slot.start <= utcnow():
        raise RemoteSlotTaken(_l("that slot has already started"))
    status, body = service.client().book(appointment_for(person, slot, description))
    if status == 422:
        raise RemoteSlotTaken(_diagnostics(body) or _l("the provider did not accept the booking"))
    if status != 201:
        raise RemoteBookingRefused(_diagnostics(body) or _l("the provider refused the booking"))
    # A 201 is a booking only when it carries one: a booked Appointment with the provider's id.
    if body.get("resourceType") != "Appointment" or body.get("status") != "booked" or not body.get("id"):
        raise RemoteBookingRefused(_diagnostics(body) or _l("the provider did not confirm the booking"))
    audit.record("appointment.booked_elsewhere", provider=service.ods_code, service=service.directory_id,
                 remote_appointment_id=str(body.get("id")))
    db.session.commit()
    return body


def cancel_at(service: RemoteService, remote_appointment_id: str) -> dict:
    """Cancel an appointment at the provider as cancel_an_appointment.html says: read it, send it back with
    status cancelled and the version read in If-Match. RemoteChangeRefused says why on a 409/412/422."""
    client = service.client()
    try:
        appointment, etag = client.read(remote_appointment_id)
    except clients.NotFound:
        raise RemoteChangeRefused(_l("the provider does not know this appointment")) from None
    if appointment.get("status") == "cancelled":
        return appointment
    status, body = client.update({**appointment, "status": "cancelled"}, etag)
    if status != 200:
        raise RemoteChangeRefused(_diagnostics(body) or _l("the provider refused the change (%(status)s)",
                                                            status=status))
    audit.record("appointment.cancelled_elsewhere", provider=service.ods_code, service=service.directory_id,
                 remote_appointment_id=str(remote_appointment_id))
    db.session.commit()
    return body


# -- booking for a referral or a triage request ---------------------------------------------------

def source_patient_nhs_number(patient) -> str | None:
    """The NHS number to prefill for the referral's or care request's patient, when we hold one."""
    if patient is None or patient.national_id_kind != "nhs" or not patient.national_id:
        return None
    return patient.national_id


def record_remote_booking(*, patient_id: int, service: RemoteService, appointment: dict, start: datetime,
                          staff_id: int, referral_id: int | None = None, care_request_id: int | None = None) -> bool:
    """Keep the outcome beside the referral or triage request it was booked from; commits.

    A triage request leaves triage as `booked_elsewhere` (a conditional UPDATE, so it is handled
    once). Returns False when someone else handled that request meanwhile: the remote booking
    stands (it is made at the provider), and the secretary is told so she can cancel it there.
    """
    db.session.add(RemoteBooking(patient_id=patient_id, referral_id=referral_id, care_request_id=care_request_id,
                                 provider_ods_code=service.ods_code[:20], service_name=service.name[:200],
                                 remote_appointment_id=str(appointment.get("id", ""))[:64], start=start,
                                 booked_by_id=staff_id))
    audit.record("appointment.booked_elsewhere_recorded", patient_id=patient_id, referral_id=referral_id,
                 care_request_id=care_request_id, provider=service.ods_code, actor=("staff", str(staff_id)))
    if care_request_id is None:
        db.session.commit()
        return True
    # The triage request's status change, the partner's e-mail and live list are the triage rules.
    return finish_triage_elsewhere(care_request_id, staff_id=staff_id, where=service.name)


def remote_bookings(*, referral_id: int | None = None, care_request_id: int | None = None) -> list[RemoteBooking]:
    query = select(RemoteBooking).order_by(RemoteBooking.created_at.desc(), RemoteBooking.id.desc())
    if referral_id is not None:
        query = query.where(RemoteBooking.referral_id == referral_id)
    else:
        query = query.where(RemoteBooking.care_request_id == care_request_id)
    return list(db.session.scalars(query))
