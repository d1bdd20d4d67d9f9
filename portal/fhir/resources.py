"""FHIR STU3 resources built from our models: plain dicts, ready for JSON. No Flask request here;
callers pass the base URL that `fullUrl`s and references are made from."""

from datetime import datetime

from portal.scheduling.models import Appointment, HealthcareService, Location, Practitioner, Schedule

FHIR_VERSION = "3.0.1"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
PROFILES = {
    "Slot": "https://fhir.nhs.uk/STU3/StructureDefinition/NHS-Slot-1",
    "Schedule": "https://fhir.nhs.uk/STU3/StructureDefinition/NHS-Schedule-1",
    "Practitioner": "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Practitioner-1",
    "Location": "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Location-1",
    "HealthcareService": "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-HealthcareService-1",
    "Appointment": "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Appointment-1",
    "Patient": "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Patient-1",
}


def instant(value: datetime) -> str:
    """A stored naive-UTC datetime as a FHIR instant."""
    return value.isoformat(timespec="seconds") + "+00:00"


def _meta(kind: str, version: int = 1) -> dict:
    return {"versionId": str(version), "profile": [PROFILES[kind]]}


def slot_entries(base_url: str, rows) -> list[dict]:
    """Search-match Slot entries for rows (id, schedule_id, start, end, status, version), with the parts
    every slot of a version or a schedule shares made once (a week is hundreds of slots)."""
    metas: dict[int, dict] = {}
    schedules: dict[int, dict] = {}
    match = {"mode": "match"}
    slot_url = f"{base_url}/Slot/"
    entries = []
    for row in rows:
        meta = metas.get(row.version) or metas.setdefault(row.version, _meta("Slot", row.version))
        schedule = schedules.get(row.schedule_id) or schedules.setdefault(
            row.schedule_id, {"reference": f"Schedule/{row.schedule_id}"})
        slot_id = str(row.id)
        entries.append({"fullUrl": slot_url + slot_id, "resource": {
            "resourceType": "Slot", "id": slot_id, "meta": meta, "schedule": schedule, "status": row.status,
            "start": instant(row.start), "end": instant(row.end)}, "search": match})
    return entries


def schedule_resource(schedule: Schedule) -> dict:
    actors = [{"reference": f"HealthcareService/{schedule.healthcare_service_id}"}]
    if schedule.location_id:
        actors.append({"reference": f"Location/{schedule.location_id}"})
    if schedule.practitioner_id:
        actors.append({"reference": f"Practitioner/{schedule.practitioner_id}"})
    return {"resourceType": "Schedule", "id": str(schedule.id), "meta": _meta("Schedule"),
            "active": schedule.active, "actor": actors, "comment": schedule.name}


def practitioner_resource(practitioner: Practitioner) -> dict:
    name = {"family": practitioner.family_name, "given": [practitioner.given_name]}
    if practitioner.prefix:
        name["prefix"] = [practitioner.prefix]
    return {"resourceType": "Practitioner", "id": str(practitioner.id), "meta": _meta("Practitioner"),
            "name": [name]}


def location_resource(location: Location) -> dict:
    resource = {"resourceType": "Location", "id": str(location.id), "meta": _meta("Location"),
                "name": location.name}
    if location.address:
        resource["address"] = {"text": location.address}
    if location.organisation_code:
        resource["managingOrganization"] = {"identifier": {"system": ODS_SYSTEM,
                                                           "value": location.organisation_code}}
    return resource


def healthcare_service_resource(service: HealthcareService) -> dict:
    return {"resourceType": "HealthcareService", "id": str(service.id), "meta": _meta("HealthcareService"),
            "active": service.active, "name": service.name,
            "providedBy": {"identifier": {"system": ODS_SYSTEM, "value": service.organisation_code}}}


def entry(base_url: str, resource: dict, mode: str = "match") -> dict:
    return {"fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}", "resource": resource,
            "search": {"mode": mode}}


def searchset(entries: list[dict], total: int) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": total, "entry": entries}


def appointment_resource(appointment: Appointment, nhs_number: str | None) -> dict:
    patient = appointment.patient
    contained = {"resourceType": "Patient", "id": "P1", "meta": {"profile": [PROFILES["Patient"]]},
                 "name": [{"family": patient.last_name, "given": [patient.first_name]}]}
    if nhs_number:
        contained["identifier"] = [{"system": NHS_NUMBER_SYSTEM, "value": nhs_number}]
    if patient.birth_date:
        contained["birthDate"] = patient.birth_date.isoformat()
    resource = {
        "resourceType": "Appointment", "id": str(appointment.id), "meta": _meta("Appointment", appointment.version),
        "contained": [contained], "status": appointment.status, "start": instant(appointment.start),
        "end": instant(appointment.end), "created": appointment.created_at.date().isoformat(),
        "slot": [{"reference": f"Slot/{appointment.slot_id}"}],
        "participant": [{"actor": {"reference": "#P1"}, "status": "accepted"}],
    }
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


SLOT_SEARCH_PARAMS = ("schedule.actor:HealthcareService", "start", "status", "_include", "_include:recurse")
SLOT_INCLUDES = ("Slot:schedule",)
SCHEDULE_INCLUDES = ("Schedule:actor:Practitioner", "Schedule:actor:Location", "Schedule:actor:HealthcareService")


def capability_statement(base_url: str, published: str) -> dict:
    """What this server really supports."""
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": published,
        "publisher": "Care Portal", "kind": "instance",
        "software": {"name": "Care Portal"},
        "implementation": {"description": "Care Portal FHIR STU3 booking API", "url": base_url},
        "fhirVersion": FHIR_VERSION, "acceptUnknown": "no", "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": False,
                "service": [{"coding": [{"system": "http://hl7.org/fhir/restful-security-service",
                                         "code": "OAuth", "display": "OAuth"}]}],
                "description": "OAuth2 client credentials at /oauth/token; bearer JWT valid one hour.",
            },
            "resource": [
                {"type": "Slot", "profile": {"reference": PROFILES["Slot"]},
                 "interaction": [{"code": "search-type"}],
                 "searchInclude": list(SLOT_INCLUDES),
                 "searchRevInclude": [],
                 "searchParam": [
                     {"name": "schedule.actor:HealthcareService", "type": "reference",
                      "documentation": "Required: the id of the healthcare service"},
                     {"name": "start", "type": "date",
                      "documentation": "ge/gt and le/lt prefixes (gt/lt strict); a date alone is that whole day"},
                     {"name": "status", "type": "token", "documentation": "free | busy | busy-unavailable"},
                 ]},
                {"type": "Schedule", "profile": {"reference": PROFILES["Schedule"]},
                 "interaction": [{"code": "read"}], "searchInclude": list(SCHEDULE_INCLUDES)},
                {"type": "Practitioner", "profile": {"reference": PROFILES["Practitioner"]},
                 "interaction": [{"code": "read"}],
                 "documentation": "Read with the schedule/*.read scope: practitioners are schedule actors."},
                {"type": "Location", "profile": {"reference": PROFILES["Location"]},
                 "interaction": [{"code": "read"}]},
                {"type": "HealthcareService", "profile": {"reference": PROFILES["HealthcareService"]},
                 "interaction": [{"code": "read"}]},
                {"type": "Appointment", "profile": {"reference": PROFILES["Appointment"]},
                 "interaction": [{"code": "create"}, {"code": "read"}, {"code": "update"}],
                 "documentation": "Update supports only status=cancelled, which frees the slot."},
            ],
        }],
    }
