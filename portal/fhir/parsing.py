"""Reading what FHIR clients send: search parameters and Appointment resources.

Pure functions, no Flask request: views and tests call them alike. Every problem is named in
an issue ({code, diagnostics, expression}) so the OperationOutcome says exactly what was wrong.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from portal.fhir.resources import NHS_NUMBER_SYSTEM, UUID_SYSTEM
from portal.ids import MAX_ID
from portal.input_rules import InputRejected, TextRejected, clean_text, load_json, parse_date, parse_instant
from portal.patients.identifiers import InvalidIdentifier, normalise_nhs_number

MAX_BODY_BYTES = 64 * 1024
_REFERENCE = re.compile(r"^(?:.*/)?Slot/(\d{1,10})$")
_SCHEDULE = re.compile(r"^(?:.*/)?Schedule/(\d{1,10})$")
NAME_MAX = 200


class InvalidRequest(ValueError):
    """400: the request itself is malformed."""

    def __init__(self, issues: list[dict]):
        super().__init__("; ".join(i["diagnostics"] for i in issues))
        self.issues = issues


class InvalidResource(ValueError):
    """422: the resource is well-formed JSON but not acceptable."""

    def __init__(self, issues: list[dict]):
        super().__init__("; ".join(i["diagnostics"] for i in issues))
        self.issues = issues


def _issue(code: str, diagnostics: str, expression: str | None = None) -> dict:
    return {"code": code, "diagnostics": diagnostics, "expression": [expression] if expression else None}


def parse_datetime(value: str) -> datetime:
    """A FHIR date or dateTime/instant as naive UTC; a date or a time without zone is taken as UTC."""
    if isinstance(value, str) and len(value) == 10:
        return datetime.combine(parse_date(value), datetime.min.time())
    return parse_instant(value, zone_required=False)


@dataclass(frozen=True)
class ContainedSlot:
    """The Slot a booking describes inline (the pages' form): found by identifier, checked by the rest."""

    id: str
    identifier: uuid.UUID
    start: datetime
    end: datetime
    schedule_id: int | None


@dataclass(frozen=True)
class AppointmentIn:
    slot_id: int | None  # from `Slot/<id>`
    contained_slot: ContainedSlot | None  # from `#<id>`
    start: datetime
    end: datetime
    nhs_number: str | None
    family_name: str
    given_name: str
    birth_date: date | None
    description: str | None
    comment: str | None
    patient: dict  # the contained Patient, kept as sent
    document: dict | None  # the contained DocumentReference, kept as sent

    @property
    def slot_uuid(self) -> uuid.UUID | None:
        return self.contained_slot.identifier if self.contained_slot else None


def read_json(body: bytes, resource_type: str) -> dict:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequest([_issue("too-long", f"the body may be at most {MAX_BODY_BYTES} bytes")])
    try:
        payload = load_json(body)
    except InputRejected as exc:
        where = f"{resource_type}.{exc.field}" if exc.field else None
        raise InvalidRequest([_issue("structure", f"{where or 'the body'} {exc.message}", where)]) from None
    if not isinstance(payload, dict):
        raise InvalidRequest([_issue("structure", "the body must be a JSON object")])
    if payload.get("resourceType") != resource_type:
        raise InvalidResource([_issue("invalid", f"resourceType must be {resource_type}", "resourceType")])
    return payload


def _text(payload: dict, key: str, issues: list, expression: str, max_length: int = 500,
          multiline: bool = False, required: bool = False) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    try:
        return clean_text(value, max_length=max_length, multiline=multiline)
    except TextRejected as exc:
        issues.append(_issue("required" if value is None else "value", f"{expression} {exc.message}", expression))
        return None


def _contained_patient(payload: dict, issues: list) -> dict | None:
    participants = payload.get("participant")
    if not isinstance(participants, list) or not participants:
        issues.append(_issue("required", "participant with the patient is required", "Appointment.participant"))
        return None
    references = [p.get("actor", {}).get("reference") for p in participants
                  if isinstance(p, dict) and isinstance(p.get("actor"), dict)]
    local = [r[1:] for r in references if isinstance(r, str) and r.startswith("#")]
    contained = payload.get("contained") if isinstance(payload.get("contained"), list) else []
    for resource in contained:
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient" and resource.get("id") in local:
            return resource
    issues.append(_issue("required", "a participant must reference a contained Patient (#id)",
                         "Appointment.participant.actor"))
    return None


def _patient_details(patient: dict, issues: list) -> tuple[str | None, str | None, str | None, date | None]:
    identifiers = patient.get("identifier") if isinstance(patient.get("identifier"), list) else []
    nhs = [i for i in identifiers if isinstance(i, dict) and i.get("system") == NHS_NUMBER_SYSTEM]
    raw = nhs[0].get("value") if nhs else None
    nhs_number = None
    # A consumer without the patient's NHS number sends no identifier (the pages' rule); we give ours.
    if nhs and not isinstance(raw, str):
        issues.append(_issue("value", "the NHS number identifier needs a value", "Patient.identifier"))
    elif nhs:
        try:
            nhs_number = normalise_nhs_number(raw)
        except InvalidIdentifier as exc:
            issues.append(_issue("value", str(exc), "Patient.identifier"))
    names = patient.get("name") if isinstance(patient.get("name"), list) else []
    name = names[0] if names and isinstance(names[0], dict) else {}
    given = name.get("given")
    name = {"family": name.get("family"), "given": given[0] if isinstance(given, list) and given else None}
    family = _text(name, "family", issues, "Patient.name.family", NAME_MAX, required=True)
    given = _text(name, "given", issues, "Patient.name.given", NAME_MAX, required=True)
    birth_date = None
    if patient.get("birthDate") is not None:
        try:
            birth_date = parse_date(patient["birthDate"])
        except ValueError as exc:
            issues.append(_issue("value", f"Patient.birthDate {exc}", "Patient.birthDate"))
    return nhs_number, family, given, birth_date


def _contained(payload: dict, reference, resource_type: str, issues: list, expression: str) -> dict | None:
    """The contained resource of that type a `#id` reference names, or None with an issue."""
    local = reference[1:] if isinstance(reference, str) and reference.startswith("#") else None
    contained = payload.get("contained") if isinstance(payload.get("contained"), list) else []
    for resource in contained:
        if isinstance(resource, dict) and resource.get("resourceType") == resource_type and resource.get("id") == local:
            return resource
    issues.append(_issue("required", f"{expression} must reference a contained {resource_type} (#id)", expression))
    return None


def _contained_slot(resource: dict, issues: list) -> ContainedSlot | None:
    identifiers = resource.get("identifier") if isinstance(resource.get("identifier"), list) else []
    values = [i.get("value") for i in identifiers if isinstance(i, dict) and i.get("system") == UUID_SYSTEM]
    identifier = None
    try:
        identifier = uuid.UUID(values[0]) if values and isinstance(values[0], str) and len(values[0]) <= 45 else None
    except ValueError:
        pass
    if identifier is None:
        issues.append(_issue("required", f"the contained Slot needs an identifier with system {UUID_SYSTEM} and the "
                                         "slot's UUID", "Slot.identifier"))
    times = {}
    for key in ("start", "end"):
        try:
            times[key] = parse_instant(resource.get(key), zone_required=False)
        except ValueError as exc:
            issues.append(_issue("required", f"the contained Slot's {key} {exc}", f"Slot.{key}"))
    schedule = resource.get("schedule") if isinstance(resource.get("schedule"), dict) else {}
    match = _SCHEDULE.match(str(schedule.get("reference", "")))
    if not match or int(match.group(1)) > MAX_ID:
        issues.append(_issue("required", "the contained Slot's schedule must be Schedule/<id>", "Slot.schedule"))
    if identifier is None or len(times) < 2 or not match or int(match.group(1)) > MAX_ID:
        return None
    return ContainedSlot(id=str(resource.get("id")), identifier=identifier, start=times["start"], end=times["end"],
                         schedule_id=int(match.group(1)))


def parse_appointment(body: bytes) -> AppointmentIn:
    """A new booked Appointment, or InvalidRequest (400) / InvalidResource (422) naming every problem.

    The slot is `Slot/<id>`, or (the pages' example) `#<id>` of a contained Slot carrying the slot's
    UUID identifier, start, end and schedule. An `id` in the body is ignored: the server assigns it.
    """
    payload = read_json(body, "Appointment")
    issues: list[dict] = []
    if payload.get("status") != "booked":
        issues.append(_issue("value", "status must be booked", "Appointment.status"))
    slots = payload.get("slot")
    slot_id = contained_slot = None
    if not isinstance(slots, list) or len(slots) != 1 or not isinstance(slots[0], dict):
        issues.append(_issue("required", "exactly one slot reference is required", "Appointment.slot"))
    else:
        reference = str(slots[0].get("reference", ""))
        match = _REFERENCE.match(reference)
        if reference.startswith("#"):
            resource = _contained(payload, reference, "Slot", issues, "Appointment.slot")
            contained_slot = _contained_slot(resource, issues) if resource is not None else None
        elif match and int(match.group(1)) <= MAX_ID:
            slot_id = int(match.group(1))
        else:
            issues.append(_issue("value", "the slot reference must be #<contained Slot> or Slot/<id>",
                                 "Appointment.slot"))
    times = {}
    for key in ("start", "end"):
        try:
            times[key] = parse_instant(payload.get(key), zone_required=False)
        except ValueError as exc:
            issues.append(_issue("required" if key not in payload else "value", f"Appointment.{key} {exc}",
                                 f"Appointment.{key}"))
    if len(times) == 2 and times["end"] <= times["start"]:
        issues.append(_issue("value", "end must be after start", "Appointment.end"))
    description = _text(payload, "description", issues, "Appointment.description")
    comment = _text(payload, "comment", issues, "Appointment.comment", 1000, multiline=True)
    patient = _contained_patient(payload, issues)
    nhs_number = family = given = birth_date = None
    if patient is not None:
        nhs_number, family, given, birth_date = _patient_details(patient, issues)
        if family and given:  # the kept copy says the name as we store it (NFC, trimmed)
            patient = {**patient, "name": [{**patient["name"][0], "family": family,
                                            "given": [given, *patient["name"][0]["given"][1:]]},
                                           *patient["name"][1:]]}
        if nhs_number is None and birth_date is None and not any(i["expression"] == ["Patient.identifier"]
                                                                 for i in issues):
            issues.append(_issue("required", "a patient without an NHS number needs a birthDate",
                                 "Patient.birthDate"))
    document = None
    supporting = payload.get("supportingInformation")
    if supporting is not None:
        if not isinstance(supporting, list) or not all(isinstance(i, dict) for i in supporting):
            issues.append(_issue("value", "supportingInformation must be a list of references",
                                 "Appointment.supportingInformation"))
        else:
            local = [i.get("reference") for i in supporting if str(i.get("reference", "")).startswith("#")]
            if local:
                document = _contained(payload, local[0], "DocumentReference", issues,
                                      "Appointment.supportingInformation")
    if issues:
        raise InvalidResource(issues)
    return AppointmentIn(slot_id=slot_id, contained_slot=contained_slot, start=times["start"], end=times["end"],
                         nhs_number=nhs_number, family_name=family, given_name=given, birth_date=birth_date,
                         description=description, comment=comment, patient=patient, document=document)


# Elements a cancellation may not change are all but these: the status it sets, and what the server
# writes (meta: versionId, lastUpdated) or may add for people (text).
_CHANGEABLE = ("status", "meta", "text")


def _same(sent, held) -> bool:
    """Equal as FHIR values: instants compare as moments (a client may write 15:00:00Z for 15:00:00+00:00)."""
    if isinstance(sent, dict) and isinstance(held, dict):
        return sent.keys() == held.keys() and all(_same(sent[k], held[k]) for k in sent)
    if isinstance(sent, list) and isinstance(held, list):
        return len(sent) == len(held) and all(_same(a, b) for a, b in zip(sent, held))
    if isinstance(sent, str) and isinstance(held, str) and sent != held and len(sent) > 10 and len(held) > 10:
        try:
            return parse_datetime(sent) == parse_datetime(held)
        except (ValueError, OverflowError):
            return False
    return sent == held


def parse_appointment_update(body: bytes, appointment_id: int, current: dict) -> str:
    """The new status of an Appointment sent back with PUT. It must be the Appointment as read (`current`)
    with only its status changed: any other difference is an InvalidResource naming the elements."""
    payload = read_json(body, "Appointment")
    if "id" in payload and str(payload["id"]) != str(appointment_id):
        raise InvalidRequest([_issue("invalid", "the id in the body is not the id in the URL", "Appointment.id")])
    status = payload.get("status")
    if status not in ("cancelled", "booked"):
        raise InvalidResource([_issue("not-supported", "only status=cancelled can be set", "Appointment.status")])
    changed = sorted(key for key in set(payload) | set(current)
                     if key not in _CHANGEABLE and key != "id" and not _same(payload.get(key), current.get(key)))
    if changed:
        raise InvalidResource([_issue("business-rule", f"only status may change; {name} differs from the "
                                                       "Appointment as read", f"Appointment.{name}")
                               for name in changed[:20]])
    return status
