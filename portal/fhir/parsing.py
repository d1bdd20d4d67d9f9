"""Reading what FHIR clients send: search parameters and Appointment resources.

Pure functions, no Flask request: views and tests call them alike. Every problem is named in
an issue ({code, diagnostics, expression}) so the OperationOutcome says exactly what was wrong.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from portal.fhir.resources import NHS_NUMBER_SYSTEM, SCHEDULE_INCLUDES, SLOT_INCLUDES, SLOT_SEARCH_PARAMS
from portal.input_rules import InputRejected, TextRejected, clean_text, load_json, parse_date, parse_instant
from portal.patients.identifiers import InvalidIdentifier, normalise_nhs_number
from portal.scheduling.models import SLOT_STATUSES

MAX_BODY_BYTES = 64 * 1024
_PREFIXED = re.compile(r"^(ge|gt|le|lt|eq)?(.+)$")
_REFERENCE = re.compile(r"^(?:.*/)?Slot/(\d{1,10})$")
_ID = re.compile(r"^\d{1,10}$")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
JSON_FORMATS = ("json", "application/json", "application/fhir+json", "application/json+fhir")  # `_format`
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


@dataclass
class SlotSearch:
    healthcare_service_id: int
    start_from: datetime | None = None
    start_to: datetime | None = None
    status: str | None = None
    include_schedule: bool = False
    include_actors: set[str] = field(default_factory=set)  # "Practitioner", "Location", "HealthcareService"


def parse_slot_search(pairs: list[tuple[str, str]]) -> SlotSearch:
    """The Slot search parameters, or InvalidRequest naming every unknown or malformed one."""
    issues: list[dict] = []
    search = SlotSearch(healthcare_service_id=0)
    service_ids = []
    for name, value in pairs:
        if name not in SLOT_SEARCH_PARAMS:
            issues.append(_issue("not-supported", f"unknown search parameter {name!r}", name))
        elif name == "schedule.actor:HealthcareService":
            raw = value.removeprefix("HealthcareService/")
            if _ID.match(raw) and int(raw) <= MAX_ID:
                service_ids.append(int(raw))
            else:
                issues.append(_issue("value", f"{name} must be a HealthcareService id", name))
        elif name == "start":
            _read_start(value, search, issues)
        elif name == "status":
            if value not in SLOT_STATUSES:
                issues.append(_issue("value", f"status must be one of {', '.join(SLOT_STATUSES)}", name))
            elif search.status not in (None, value):
                issues.append(_issue("value", "give status once", name))
            else:
                search.status = value
        elif name == "_include":
            if value in SLOT_INCLUDES:
                search.include_schedule = True
            else:
                issues.append(_issue("not-supported", f"_include={value} is not supported", name))
        elif name == "_include:recurse":
            if value in SCHEDULE_INCLUDES:
                search.include_actors.add(value.rsplit(":", 1)[1])
            else:
                issues.append(_issue("not-supported", f"_include:recurse={value} is not supported", name))
    if not service_ids and not any(i["expression"] == ["schedule.actor:HealthcareService"] for i in issues):
        issues.append(_issue("required", "schedule.actor:HealthcareService is required",
                             "schedule.actor:HealthcareService"))
    elif len(set(service_ids)) > 1:
        issues.append(_issue("value", "give one HealthcareService", "schedule.actor:HealthcareService"))
    if search.include_actors and not search.include_schedule:
        issues.append(_issue("value", "_include:recurse needs _include=Slot:schedule", "_include:recurse"))
    if search.start_from and search.start_to and search.start_to < search.start_from:
        issues.append(_issue("value", "the start window ends before it begins", "start"))
    if issues:
        raise InvalidRequest(issues)
    search.healthcare_service_id = service_ids[0]
    return search


def _read_start(value: str, search: SlotSearch, issues: list[dict]) -> None:
    prefix, raw = _PREFIXED.match(value).groups() if value else (None, "")
    try:
        moment = parse_datetime(raw)
    except ValueError as exc:
        issues.append(_issue("value", f"start={value}: {exc} (a date or instant, with a ge/gt/le/lt prefix)",
                             "start"))
        return
    is_date = len(raw) == 10
    # gt/lt are strict: a slot starting exactly at the instant given is outside (stored times have whole
    # seconds, so one microsecond past the instant excludes it exactly).
    if prefix == "ge":
        search.start_from = moment
    elif prefix == "gt":
        search.start_from = moment + (timedelta(days=1) if is_date else timedelta(microseconds=1))
    elif prefix == "le":
        search.start_to = moment + (timedelta(days=1, microseconds=-1) if is_date else timedelta(0))
    elif prefix == "lt":
        search.start_to = moment - timedelta(microseconds=1)
    elif is_date:  # eq or no prefix on a date: that whole day
        search.start_from, search.start_to = moment, moment + timedelta(days=1, microseconds=-1)
    else:
        search.start_from = search.start_to = moment


@dataclass(frozen=True)
class AppointmentIn:
    slot_id: int
    start: datetime
    end: datetime
    nhs_number: str
    family_name: str
    given_name: str
    birth_date: date | None
    description: str | None
    comment: str | None


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
    raw = next((i.get("value") for i in identifiers if isinstance(i, dict) and i.get("system") == NHS_NUMBER_SYSTEM),
               None)
    nhs_number = None
    if not isinstance(raw, str):
        issues.append(_issue("required", f"the patient needs an identifier with system {NHS_NUMBER_SYSTEM}",
                             "Patient.identifier"))
    else:
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


def parse_appointment(body: bytes) -> AppointmentIn:
    """A new booked Appointment, or InvalidRequest (400) / InvalidResource (422) naming every problem."""
    payload = read_json(body, "Appointment")
    issues: list[dict] = []
    if payload.get("status") != "booked":
        issues.append(_issue("value", "status must be booked", "Appointment.status"))
    slots = payload.get("slot")
    slot_id = None
    if not isinstance(slots, list) or len(slots) != 1 or not isinstance(slots[0], dict):
        issues.append(_issue("required", "exactly one slot reference is required", "Appointment.slot"))
    else:
        match = _REFERENCE.match(str(slots[0].get("reference", "")))
        if match and int(match.group(1)) <= MAX_ID:
            slot_id = int(match.group(1))
        else:
            issues.append(_issue("value", "the slot reference must be Slot/<id>", "Appointment.slot"))
    times = {}
    for key in ("start", "end"):
        try:
            times[key] = parse_instant(payload.get(key), zone_required=False)
        except ValueError as exc:
            issues.append(_issue("required" if key not in payload else "value", f"Appointment.{key} {exc}",
                                 f"Appointment.{key}"))
    description = _text(payload, "description", issues, "Appointment.description")
    comment = _text(payload, "comment", issues, "Appointment.comment", 1000, multiline=True)
    patient = _contained_patient(payload, issues)
    nhs_number = family = given = birth_date = None
    if patient is not None:
        nhs_number, family, given, birth_date = _patient_details(patient, issues)
    if issues:
        raise InvalidResource(issues)
    return AppointmentIn(slot_id=slot_id, start=times["start"], end=times["end"], nhs_number=nhs_number,
                         family_name=family, given_name=given, birth_date=birth_date, description=description,
                         comment=comment)


def parse_appointment_update(body: bytes, appointment_id: int) -> str:
    """The new status of an Appointment sent with PUT; only `cancelled` is a change we make."""
    payload = read_json(body, "Appointment")
    if "id" in payload and str(payload["id"]) != str(appointment_id):
        raise InvalidRequest([_issue("invalid", "the id in the body is not the id in the URL", "Appointment.id")])
    status = payload.get("status")
    if status not in ("cancelled", "booked"):
        raise InvalidResource([_issue("not-supported", "only status=cancelled can be set", "Appointment.status")])
    return status
