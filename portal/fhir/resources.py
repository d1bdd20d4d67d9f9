"""FHIR STU3 resources built from our models (or rows with the same column names): plain dicts, ready for
JSON, except a slot search's Slot entries, which are JSON text already (orjson fragments). No Flask request
here; callers pass the base URL that `fullUrl`s and references are made from."""

from datetime import datetime

import orjson

from portal.fhir import search
from portal.scheduling.models import Appointment, HealthcareService, Location, Practitioner, Schedule

FHIR_VERSION = "3.0.1"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
UUID_SYSTEM = "https://tools.ietf.org/html/rfc4122"
NHS_NUMBER_VERIFICATION_URL = ("https://fhir.hl7.org.uk/STU3/StructureDefinition/"
                               "Extension-CareConnect-NHSNumberVerificationStatus-1")
NHS_NUMBER_VERIFICATION_SYSTEM = "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1"
_CARE_CONNECT = "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-{}-1"
PROFILES = {kind: _CARE_CONNECT.format(kind) for kind in (
    "Slot", "Schedule", "Practitioner", "PractitionerRole", "Location", "HealthcareService", "Organization",
    "Appointment", "Patient", "DocumentReference")}


def instant(value: datetime) -> str:
    """A stored naive-UTC datetime as a FHIR instant."""
    return value.isoformat(timespec="seconds") + "+00:00"


def _meta(kind: str, version: int = 1) -> dict:
    return {"versionId": str(version), "profile": [PROFILES[kind]]}


# One Slot's search entry as JSON text, filled in by position. A week of a service is hundreds of slots:
# as nested dicts (five per slot) they cost ~3x the CPU to build, serialize and collect as this one string.
_SLOT_ENTRY = ('{"fullUrl":"%s%d","resource":{"resourceType":"Slot","id":"%d","meta":%s,'
               '"identifier":[{"system":"' + UUID_SYSTEM + '","value":"%s"}],'
               '"schedule":{"reference":"Schedule/%d"},"status":%s,"start":"%s","end":"%s"},'
               '"search":{"mode":"match"}}')


def slot_entries(base_url: str, rows) -> list[orjson.Fragment]:
    """Search-match Slot entries for rows (id, uuid as text, schedule_id, start, end, status, version), as
    JSON fragments the bundle's encoder copies as they are. Every text that comes from outside the template
    goes through the JSON encoder (base URL, status, meta); the rest are numbers, a UUID and instants."""
    slot_url = orjson.dumps(f"{base_url}/Slot/").decode()[1:-1]
    # A week's slots share a few versions and statuses, and their times (one slot ends as the next
    # begins, schedules keep the same hours): each is written once.
    metas: dict[int, str] = {}
    statuses: dict[str, str] = {}
    instants: dict[datetime, str] = {}
    entries = []
    for slot_id, uuid, schedule_id, start, end, status, version in rows:  # unpacked: Row attributes cost more
        if version not in metas:
            metas[version] = orjson.dumps(_meta("Slot", version)).decode()
        if status not in statuses:
            statuses[status] = orjson.dumps(status).decode()
        if start not in instants:
            instants[start] = instant(start)
        if end not in instants:
            instants[end] = instant(end)
        entries.append(orjson.Fragment(_SLOT_ENTRY % (slot_url, slot_id, slot_id, metas[version], uuid, schedule_id,
                                                      statuses[status], instants[start], instants[end])))
    return entries


def _organization_reference(code: str) -> dict:
    return {"reference": f"Organization/{code}", "identifier": {"system": ODS_SYSTEM, "value": code}}


def schedule_resource(schedule: Schedule) -> dict:
    """At most three actors, as the booking pages ask: the service, and the practitioner with their role
    in this schedule (which names the location), or else the location."""
    actors = [{"reference": f"HealthcareService/{schedule.healthcare_service_id}"}]
    if schedule.practitioner_id:
        actors += [{"reference": f"Practitioner/{schedule.practitioner_id}"},
                   {"reference": f"PractitionerRole/{schedule.id}"}]
    elif schedule.location_id:
        actors.append({"reference": f"Location/{schedule.location_id}"})
    return {"resourceType": "Schedule", "id": str(schedule.id), "meta": _meta("Schedule"),
            "active": schedule.active, "actor": actors, "comment": schedule.name}


def practitioner_resource(practitioner: Practitioner) -> dict:
    name = {"family": practitioner.family_name, "given": [practitioner.given_name]}
    if practitioner.prefix:
        name["prefix"] = [practitioner.prefix]
    return {"resourceType": "Practitioner", "id": str(practitioner.id), "meta": _meta("Practitioner"),
            "name": [name]}


def practitioner_role_resource(schedule: Schedule, organisation_code: str) -> dict:
    """PractitionerRole/<schedule id>: what the practitioner does in that schedule: for which organisation,
    in which service, where."""
    role = {"resourceType": "PractitionerRole", "id": str(schedule.id), "meta": _meta("PractitionerRole"),
            "active": schedule.active, "practitioner": {"reference": f"Practitioner/{schedule.practitioner_id}"},
            "organization": _organization_reference(organisation_code),
            "healthcareService": [{"reference": f"HealthcareService/{schedule.healthcare_service_id}"}]}
    if schedule.location_id:
        role["location"] = [{"reference": f"Location/{schedule.location_id}"}]
    return role


def location_resource(location: Location) -> dict:
    resource = {"resourceType": "Location", "id": str(location.id), "meta": _meta("Location"),
                "name": location.name}
    if location.address:
        resource["address"] = {"text": location.address}
    if location.organisation_code:
        resource["managingOrganization"] = _organization_reference(location.organisation_code)
    return resource


def healthcare_service_resource(service: HealthcareService, identifier_system: str,
                                location_id: int | None = None) -> dict:
    """`location_id`: the service's one location, when all its schedules are at one place (the pages
    allow one location per service)."""
    resource = {"resourceType": "HealthcareService", "id": str(service.id), "meta": _meta("HealthcareService"),
                "identifier": [{"system": identifier_system, "value": str(service.id)}],
                "active": service.active, "providedBy": _organization_reference(service.organisation_code),
                "name": service.name}
    if location_id:
        resource["location"] = [{"reference": f"Location/{location_id}"}]
    return resource


def organization_resource(code: str) -> dict:
    """An organisation is known to us by its ODS code only, which is also its id."""
    return {"resourceType": "Organization", "id": code, "meta": _meta("Organization"),
            "identifier": [{"system": ODS_SYSTEM, "value": code}]}


def entry(base_url: str, resource: dict, mode: str = "match") -> dict:
    return {"fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}", "resource": resource,
            "search": {"mode": mode}}


def searchset(entries: list[dict], total: int, self_url: str, bundle_id: str) -> dict:
    return {"resourceType": "Bundle", "id": bundle_id, "type": "searchset", "total": total,
            "link": [{"relation": "self", "url": self_url}], "entry": entries}


def nhs_number_identifier(nhs_number: str, verification_code: str = "02") -> dict:
    """An NHS number as the CareConnect Patient profile has it; 01 is 'present and verified', 02 'present
    but not traced' (what a provider can say of a number it did not check with the demographics service)."""
    display = {"01": "Number present and verified", "02": "Number present but not traced"}[verification_code]
    return {"extension": [{"url": NHS_NUMBER_VERIFICATION_URL, "valueCodeableConcept": {"coding": [
        {"system": NHS_NUMBER_VERIFICATION_SYSTEM, "code": verification_code, "display": display}]}}],
        "use": "official", "system": NHS_NUMBER_SYSTEM, "value": nhs_number}


def contained_slot(slot, appointment_status: str, contained_id: str) -> dict:
    """The slot of an appointment, contained in it: busy while the appointment is booked."""
    return {"resourceType": "Slot", "id": contained_id,
            "identifier": [{"system": UUID_SYSTEM, "value": str(slot.uuid)}],
            "schedule": {"reference": f"Schedule/{slot.schedule_id}"},
            "status": "busy" if appointment_status == "booked" else "free",
            "start": instant(slot.start), "end": instant(slot.end)}


def appointment_resource(appointment: Appointment, *, patient: dict, slot: dict, document: dict | None = None,
                         status: str | None = None, version: int | None = None,
                         last_updated: datetime | None = None) -> dict:
    """The Appointment with its contained DocumentReference (when one was sent), Patient and Slot.
    `status`, `version` and `last_updated` render an earlier version (the rest of an appointment never
    changes)."""
    status = status or appointment.status
    meta = _meta("Appointment", version or appointment.version)
    if last_updated is not None:
        meta["lastUpdated"] = instant(last_updated)
    actor = {"reference": f"#{patient['id']}"}
    if patient.get("identifier"):
        found = patient["identifier"][0]
        actor["identifier"] = {key: found[key] for key in ("use", "system", "value") if key in found}
    contained = [document] if document else []
    resource = {
        "resourceType": "Appointment", "id": str(appointment.id), "meta": meta,
        "contained": contained + [patient, slot], "status": status,
        "start": instant(appointment.start), "end": instant(appointment.end),
        "created": instant(appointment.created_at), "slot": [{"reference": f"#{slot['id']}"}],
        "participant": [{"actor": actor, "status": "accepted"}],
    }
    if document:
        resource["supportingInformation"] = [{"reference": f"#{document['id']}"}]
    if appointment.description:
        resource["description"] = appointment.description
    if appointment.comment:
        resource["comment"] = appointment.comment
    return resource


def operation_outcome(code: str, diagnostics: str, expression: list[str] | None = None,
                      issues: list[dict] | None = None) -> dict:
    """One issue (or several, as {code, diagnostics, expression}) as an OperationOutcome."""
    items = issues or [{"code": code, "diagnostics": diagnostics, "expression": expression}]
    built = []
    for item in items:
        issue = {"severity": "error", "code": item["code"], "diagnostics": item["diagnostics"]}
        if item.get("expression"):
            issue["expression"] = item["expression"]
        built.append(issue)
    return {"resourceType": "OperationOutcome", "issue": built}


def _read_only(kind: str, documentation: str | None = None) -> dict:
    resource = {"type": kind, "profile": {"reference": PROFILES[kind]}, "interaction": [{"code": "read"}]}
    if documentation:
        resource["documentation"] = documentation
    return resource


def capability_statement(base_url: str, published: str) -> dict:
    """What this server really supports: every interaction, parameter and include listed here works, and
    a parameter not listed is ignored (refused under Prefer: handling=strict)."""
    slot_params = [
        {"name": "service", "type": "token", "documentation": "The id of the HealthcareService; also accepted as "
         + " and ".join(search.SERVICE_PARAMS[:2]) + " (value <id> or HealthcareService/<id>). Optional."},
        {"name": "start", "type": "date", "documentation": "Give it twice for a window; prefixes eq ne gt lt ge le "
         "sa eb ap; a date, or a dateTime with Z or an offset (an unencoded '+' arriving as a space is read as +)."},
        {"name": "status", "type": "token", "documentation": "free | busy | busy-unavailable, several "
         "comma-separated; all statuses when left out."},
    ]
    appointment_params = [
        {"name": name, "type": "token" if name == "identifier" else "reference",
         "documentation": "The patient, as system|value: https://fhir.nhs.uk/Id/nhs-number|<NHS number> or our "
                          "local patient identifier. Appointments not yet ended, of those this client booked."}
        for name in search.PATIENT_PARAMS
    ] + [{"name": "_id", "type": "token", "documentation": "Narrows the patient's appointments to one."}]
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": published,
        "publisher": "Care Portal", "kind": "instance", "name": "Care Portal NHS Booking API provider",
        "description": "NHS Booking API (CareConnect STU3): search slots, book, read, cancel and search a "
                       "patient's appointments.",
        "software": {"name": "Care Portal"},
        "implementation": {"description": "Care Portal FHIR STU3 booking API", "url": base_url},
        "fhirVersion": FHIR_VERSION, "acceptUnknown": "both", "format": ["application/fhir+json", "json"],
        "profile": [{"reference": PROFILES[kind]} for kind in PROFILES],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": False,
                "service": [{"coding": [{"system": "http://hl7.org/fhir/restful-security-service",
                                         "code": "OAuth", "display": "OAuth"}]}],
                "description": "OAuth2 client credentials at /oauth/token; bearer JWT valid one hour. A missing "
                               "or invalid token is a 403 with an OperationOutcome, as the booking pages ask.",
            },
            "resource": [
                {"type": "Slot", "profile": {"reference": PROFILES["Slot"]},
                 "interaction": [{"code": "search-type"}],
                 "searchInclude": list(search.SLOT_INCLUDES), "searchRevInclude": [],
                 "documentation": "_include, _include:iterate and _include:recurse are alike (each follows "
                                  "what the others included); ':' or '.' and any case; HealthcareService:"
                                  "Organization is HealthcareService:providedBy.",
                 "searchParam": slot_params},
                _read_only("Schedule"),
                _read_only("Practitioner", "Read with the schedule/*.read scope: practitioners are schedule actors."),
                _read_only("PractitionerRole", "PractitionerRole/<schedule id>: the practitioner's role in that "
                                               "schedule. Read with the schedule/*.read scope."),
                _read_only("Location"),
                _read_only("HealthcareService"),
                _read_only("Organization", "Organization/<ODS code>. Read with the organization/*.read scope."),
                {"type": "Appointment", "profile": {"reference": PROFILES["Appointment"]},
                 "interaction": [{"code": "create"}, {"code": "read"}, {"code": "vread"}, {"code": "update"},
                                 {"code": "search-type"}],
                 "versioning": "versioned", "readHistory": True, "updateCreate": False,
                 "conditionalCreate": False, "conditionalUpdate": False, "conditionalDelete": "not-supported",
                 "documentation": "Create: the slot as Slot/<id> or a contained Slot with its UUID identifier. "
                                  "Update: only status=cancelled, with If-Match (412 without, 409 when stale); "
                                  "any other change is a 422.",
                 "searchParam": appointment_params},
            ],
            "searchParam": [{"name": "_format", "type": "string",
                             "documentation": "json (or a JSON media type); XML is not offered (406)."}],
        }],
    }
