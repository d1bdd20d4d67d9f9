"""The specification's example requests and bodies, as fixtures (public reference data, Apache-2.0, from
the NHS Booking API pages; see requirements.py). The JSON files beside this module are the published
examples unchanged but for the host name of the sample Bundle; the functions here adapt ids, times and
the NHS number to a test's own diary, and say which parts they change.
"""

import copy
import json
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).parent / "examples"
SLOT_UUID_SYSTEM = "https://tools.ietf.org/html/rfc4122"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

# search_slots.html, "RESTful Query", parameter for parameter as printed (the service id and the window
# are the test's; the '+' of the offset is sent as printed, so a form-decoding server sees a space).
SLOT_QUERY = (
    ("schedule.actor:healthcareservice", "918999198999"),
    ("start", "ge2019-05-09T10:00:00+00:00"),
    ("start", "le2019-05-09T10:30:00+00:00"),
    ("status", "free"),
    ("_include", "Slot:schedule"),
    ("_include:iterate", "Schedule:actor:Practitioner"),
    ("_include:iterate", "Schedule:actor:PractitionerRole"),
    ("_include:iterate", "Schedule:actor:HealthcareService"),
    ("_include:iterate", "HealthcareService:location"),
    ("_format", "json"),
)

# The sample response's self link spells the includes as the first issue report quoted them.
SAMPLE_SELF_LINK_INCLUDES = ("Slot:schedule", "Schedule:actor:Practitioner", "Schedule:actor:PractitionerRole",
                             "Schedule:actor:HealthcareService", "HealthcareService.location")

# search_patient_appointments.html, "RESTful Query".
PATIENT_APPOINTMENTS_PARAMETER = "Appointment.participant.actor:Patient.identifier"
PATIENT_APPOINTMENTS_VALUE = "https://fhir.nhs.uk/Id/nhs-number|1234567890"


def load(name: str) -> dict:
    return json.loads((HERE / f"{name}.json").read_text())


def slot_query(service_id, start_from: str, start_to: str, *, raw_plus: bool = True) -> str:
    """The printed slot query for our service and window. With raw_plus the '+hh:mm' goes unencoded
    (as the page prints it, which a server's form decoding turns into a space)."""
    pairs = []
    for name, value in SLOT_QUERY:
        if name == "schedule.actor:healthcareservice":
            value = str(service_id)
        elif name == "start":
            value = value[:2] + (start_from if value.startswith("ge") else start_to)
        pairs.append((name, value))
    query = urlencode(pairs, safe=":+" if raw_plus else ":")
    return query


def booking_body(*, slot_uuid: str, schedule_id, start: str, end: str, appointment_end: str | None = None,
                 nhs_number: str | None = None) -> dict:
    """appointment.html's booking example for one of our slots: the contained Slot's identifier, schedule,
    start and end are the slot's; the Appointment keeps the example's shape (its end may be before the
    slot's end, as in the example: 10 minutes of a 30-minute slot). Without nhs_number the example's is
    kept, with it replaced; nhs_number="" drops the identifier (a patient without an NHS number)."""
    body = load("booking")
    contained = {r["resourceType"]: r for r in body["contained"]}
    slot = contained["Slot"]
    slot["identifier"][0]["value"] = slot_uuid
    slot["schedule"]["reference"] = f"Schedule/{schedule_id}"
    slot["start"], slot["end"] = start, end
    body["start"], body["end"] = start, appointment_end or end
    patient = contained["Patient"]
    if nhs_number == "":
        del patient["identifier"]
    elif nhs_number is not None:
        patient["identifier"][0]["value"] = nhs_number
    return body


def cancelling_body(read_back: dict) -> dict:
    """appointment.html's cancelling example: the Appointment as read from the provider, status cancelled."""
    body = copy.deepcopy(read_back)
    body["status"] = "cancelled"
    return body
