"""Every MUST and SHOULD (and the WILLs and element tables the pages use as rules) of the NHS Booking
API specification's pages that a provider or a consumer of Slot search, booking, reading, cancelling
and searching a patient's appointments has to meet.

Source: the specification's own pages (repository nhsconnect/NHS-Booking-API, published as
nhsconnect.github.io/NHS-Booking-API and developer.nhs.uk/apis/nhsbooking-2.0.3; Apache-2.0). The
text below is a short paraphrase of each rule, not a copy. Pages of the Registry (register and
cancel a registered appointment, "not yet delivered") and of SDS/SSP set-up are out of our scope:
we are a provider and a consumer, not the Registry nor the Spine proxy.

`level` is the keyword of the sentence; a rule the page gives as an element table is "TABLE".
Each conformance test names the rules it shows with `@pytest.mark.requirement("SS-01", ...)`; the
table of rules, pages and outcomes is printed at the end of every run that collects them.
"""

from typing import NamedTuple


class Requirement(NamedTuple):
    id: str
    page: str
    level: str
    text: str


R = Requirement
REQUIREMENTS: tuple[Requirement, ...] = (
    # -- search_slots.html ---------------------------------------------------------------------------
    R("SS-01", "search_slots.html", "MUST", "support the service parameter: schedule.actor:healthcareservice "
      "(as printed, lower case), schedule.actor:HealthcareService and service, with the HealthcareService id"),
    R("SS-02", "search_slots.html", "MUST", "support status for every status, several as status=a,b"),
    R("SS-03", "search_slots.html", "MUST", "support start twice (a window) with the ge/gt/le/lt/eq/ne/sa/eb/ap "
      "prefixes, dates or instants with an offset (+hh:mm, Z, or the '+' sent unencoded as a space)"),
    R("SS-04", "search_slots.html", "MUST", "cater for any of the parameters not being present"),
    R("SS-05", "search_slots.html", "SHOULD", "ignore additional query parameters it does not support "
      "(refused only under Prefer: handling=strict, as FHIR search says)"),
    R("SS-06", "search_slots.html", "SHOULD", "support _include=Slot:schedule"),
    R("SS-07", "search_slots.html", "SHOULD", "support _include(:iterate|:recurse)=Schedule:actor:Practitioner"),
    R("SS-08", "search_slots.html", "SHOULD", "support _include(:iterate|:recurse)=Schedule:actor:PractitionerRole"),
    R("SS-09", "search_slots.html", "SHOULD",
      "support _include(:iterate|:recurse)=Schedule:actor:HealthcareService"),
    R("SS-10", "search_slots.html", "SHOULD", "support _include(:iterate|:recurse)=HealthcareService:Organization "
      "(HealthcareService.providedBy / HealthcareService:providedBy)"),
    R("SS-11", "search_slots.html", "SHOULD", "support _include(:iterate|:recurse)=HealthcareService:Location "
      "(HealthcareService:location / HealthcareService.location)"),
    R("SS-12", "search_slots.html", "MUST", "an _include of a resource that is not supported returns only the "
      "supported resources, not an error"),
    R("SS-13", "search_slots.html", "MUST", "an _include whose data is not held still returns the available slots, "
      "and they can be booked"),
    R("SS-14", "search_slots.html", "SHOULD", "honour _format=json (XML is not offered: 406 with an "
      "OperationOutcome)"),
    R("SS-15", "search_slots.html", "MUST", "answer the page's full RESTful query as printed"),
    R("SS-16", "search_slots.html", "MUST", "return 200 OK on a successful search"),
    R("SS-17", "search_slots.html", "MUST", "include the Slot resources which meet the criteria (and no others)"),
    R("SS-18", "search_slots.html", "MUST", "the Bundle contains only resources related to the returned Slots"),
    R("SS-19", "search_slots.html", "SHOULD", "no slots returned: no other resources in the Bundle"),
    R("SS-20", "search_slots.html", "SHOULD NOT", "duplicate related resources (related to several Slots, or "
      "reached by several includes)"),
    R("SS-21", "search_slots.html", "MUST", "no valid JWT (missing, malformed, expired): 403 Forbidden with an "
      "OperationOutcome"),
    R("SS-22", "search_slots.html", "MUST", "invalid query parameters (or unsupported ones under strict "
      "handling): 400 Bad Request"),
    R("SS-23", "search_slots.html", "MUST", "a server error: 500 Internal Server Error (with an OperationOutcome)"),
    R("SS-24", "search_slots.html", "SHOULD NOT", "a consumer does not retry a 4xx without addressing the cause "
      "(ours: no retry, except one fresh token after a refused token)"),
    R("SS-25", "bundle.html", "TABLE", "the searchset Bundle has id, type searchset, total, a self link "
      "(without ignored parameters) and a fullUrl for every entry"),
    # -- slot.html, schedule.html, healthcare_service.html, organisation/location/practitioner pages -------
    R("SL-01", "slot.html", "TABLE", "Slot.identifier [1..1]: system https://tools.ietf.org/html/rfc4122 and "
      "the slot's UUID"),
    R("SL-02", "slot.html", "TABLE", "Slot status, start and end (FHIR instants) and schedule [1..1]; the "
      "CareConnect-Slot-1 profile"),
    R("SC-01", "schedule.html", "TABLE", "Schedule id [1..1]; actor [1..3] of HealthcareService, Location, "
      "Practitioner, PractitionerRole"),
    R("SC-02", "schedule.html", "MUST", "a Schedule references a HealthcareService or a Location or both"),
    R("HS-01", "healthcare_service.html", "TABLE", "HealthcareService identifier [1..1], providedBy [0..1] "
      "(an Organization), location [0..1] (a Location)"),
    R("RS-01", "resources_overview.html", "TABLE", "Organization, Location, Practitioner and PractitionerRole "
      "follow their CareConnect profiles (ODS code identifier, references between them) and can be read"),
    # -- book_an_appointment.html --------------------------------------------------------------------
    R("BK-01", "book_an_appointment.html", "MUST", "accept the booking example: a POSTed Appointment with contained "
      "DocumentReference, Patient and Slot, slot referenced as #id, the Slot found by its identifier"),
    R("BK-02", "book_an_appointment.html", "MUST", "the contained Slot is checked against the slot's start, end "
      "and schedule; a mismatch is a 422"),
    R("BK-03", "book_an_appointment.html", "MUST", "success: 201 Created"),
    R("BK-04", "book_an_appointment.html", "MUST", "Location header: the absolute [base]/Appointment/[id]/"
      "_history/[vid], a URL that stays stable (it can be read)"),
    R("BK-05", "book_an_appointment.html", "SHOULD", "ETag header with the versionId and a Last-Modified header"),
    R("BK-06", "book_an_appointment.html", "MUST", "the body is the created Appointment with its new id and "
      "versionId"),
    R("BK-07", "book_an_appointment.html", "SHOULD", "the resource supports RESTful updates by PUT to that URL"),
    R("BK-08", "book_an_appointment.html", "MUST", "a business rule (slot no longer free, unknown slot, slot "
      "started): 422 with an OperationOutcome"),
    R("BK-09", "book_an_appointment.html", "MUST", "a body that fails validation against the profiles: 422 with "
      "an OperationOutcome"),
    R("BK-10", "book_an_appointment.html", "MUST", "no valid JWT: 403 with an OperationOutcome"),
    R("BK-11", "book_an_appointment.html", "MUST", "a body that is simply invalid (not JSON, not an object): 400 "
      "with an OperationOutcome"),
    R("BK-12", "book_an_appointment.html", "MUST", "a server error: 500 with an OperationOutcome"),
    R("BK-13", "book_an_appointment.html", "TABLE", "X-Request-Id: the server uses the client's id or assigns "
      "its own, and answers with it"),
    R("BK-14", "book_an_appointment.html", "SHOULD", "when the server's request id differs from the client's, "
      "X-Correlation-Id carries the client's original id; a client's X-Correlation-Id is echoed"),
    R("BK-15", "book_an_appointment.html", "MUST", "also accept a slot referenced as Slot/<id> (FHIR reference "
      "to the provider's Slot)"),
    # -- appointment.html (booking and cancelling examples, key elements) ------------------------------
    R("AP-01", "appointment.html", "MUST NOT", "the request has no id; if one is sent the server assigns its own "
      "(FHIR create)"),
    R("AP-02", "appointment.html", "MUST", "status booked | cancelled | entered in error: a booking is booked"),
    R("AP-03", "appointment.html", "TABLE", "start, end (instants), slot, participant are required; created is "
      "set by the provider, not the consumer"),
    R("AP-04", "appointment.html", "SHOULD", "three contained resources (DocumentReference, Patient, Slot) are kept "
      "and returned"),
    R("AP-05", "appointment.html", "TABLE", "description [1..1] and supportingInformation (#DocumentReference) are "
      "kept and returned"),
    R("AP-06", "appointment.html", "MUST", "cancelling: the retrieved Appointment is sent back with status "
      "cancelled; the cancelling example is accepted"),
    # -- patient.html, document_reference.html ---------------------------------------------------------
    R("PA-01", "patient.html", "MUST NOT", "without an NHS number the consumer sends no identifier (accepted)"),
    R("PA-02", "get_an_appointment.html", "MUST", "a patient sent without identifier gets the provider's local "
      "identifier, returned in later reads, searches and cancels"),
    R("PA-03", "patient.html", "TABLE", "an NHS number identifier keeps its verification-status extension, use "
      "official and system https://fhir.nhs.uk/Id/nhs-number"),
    R("PA-04", "get_an_appointment.html", "MUST", "the returned Patient has id, identifier, name, gender, "
      "birthDate, address and telecom when they are held"),
    R("DR-01", "document_reference.html", "MUST", "the contained DocumentReference (identifier rfc4122 UUID, "
      "status current, type, content.attachment contentType and language) is kept as sent"),
    # -- cancel_an_appointment.html ----------------------------------------------------------------------
    R("CA-01", "cancel_an_appointment.html", "MUST", "cancel is a PUT of the Appointment with status cancelled"),
    R("CA-02", "cancel_an_appointment.html", "MUST", "the provider stores previous versions (readable at "
      "_history/[vid])"),
    R("CA-03", "cancel_an_appointment.html", "MUST", "success: 200 OK"),
    R("CA-04", "cancel_an_appointment.html", "MUST", "Location header with the absolute URL; stable"),
    R("CA-05", "cancel_an_appointment.html", "MUST", "the body is the updated Appointment with its new versionId"),
    R("CA-06", "cancel_an_appointment.html", "MUST", "no other element may change: a difference other than "
      "status is a 422 with an OperationOutcome"),
    R("CA-07", "cancel_an_appointment.html", "MUST", "a body that fails validation: 422 with an OperationOutcome"),
    R("CA-08", "cancel_an_appointment.html", "MUST", "no valid JWT: 403 with an OperationOutcome"),
    R("CA-09", "cancel_an_appointment.html", "MUST", "a version conflict (stale If-Match): 409 with an "
      "OperationOutcome"),
    R("CA-10", "cancel_an_appointment.html", "MUST", "no If-Match header: 412 with an OperationOutcome"),
    R("CA-11", "cancel_an_appointment.html", "MUST", "a body that is simply invalid: 400 with an OperationOutcome"),
    R("CA-12", "cancel_an_appointment.html", "MUST", "a server error: 500 with an OperationOutcome"),
    R("CA-13", "developing.html", "TABLE", "Appointments are protected against lost updates by their version "
      "(FHIR concurrency): the cancelled slot is free again once, never twice"),
    # -- get_an_appointment.html ------------------------------------------------------------------------
    R("GA-01", "get_an_appointment.html", "WILL", "GET [base]/Appointment/[id]: 200 with the Appointment"),
    R("GA-02", "get_an_appointment.html", "WILL", "GET [base]/Appointment/[id]/_history/[vid]: that version"),
    R("GA-03", "get_an_appointment.html", "SHOULD", "an unknown resource (or version): 404 with an "
      "OperationOutcome"),
    R("GA-04", "get_an_appointment.html", "WILL", "no valid JWT: 403 with an OperationOutcome"),
    R("GA-05", "get_an_appointment.html", "WILL", "invalid query parameters: 400 (unknown ones ignored unless "
      "strict)"),
    R("GA-06", "get_an_appointment.html", "TABLE", "the body has id, versionId, status, start, end, created, "
      "description, slot, participant and supportingInformation as booked"),
    R("GA-07", "get_an_appointment.html", "WILL", "the Appointment has contained Patient and Slot (and the "
      "DocumentReference when one was sent), referenced with #id"),
    R("GA-08", "get_an_appointment.html", "MUST", "the contained Slot has identifier (rfc4122 UUID), status, start, "
      "end and schedule"),
    # -- search_patient_appointments.html -------------------------------------------------------------------
    R("SA-01", "search_patient_appointments.html", "SHOULD", "support the Patient parameter as printed "
      "(Appointment.participant.actor:Patient.identifier=system|value) and its FHIR spellings"),
    R("SA-02", "search_patient_appointments.html", "MUST", "return 200 OK"),
    R("SA-03", "search_patient_appointments.html", "MUST", "include the zero to many Appointments which meet the "
      "criteria"),
    R("SA-04", "search_patient_appointments.html", "MUST NOT", "page the results"),
    R("SA-05", "search_patient_appointments.html", "SHOULD", "not return appointments in the past"),
    R("SA-06", "search_patient_appointments.html", "MUST", "no valid JWT: 403 with an OperationOutcome"),
    R("SA-07", "search_patient_appointments.html", "SHOULD", "invalid query parameters: 400"),
    R("SA-08", "search_patient_appointments.html", "TABLE", "entries have fullUrl [base]/Appointment/[id]/_history/"
      "[vid], status, start, end, created and the patient's identifier on the participant"),
    R("SA-09", "search_patient_appointments.html", "SHOULD", "honour _format=json"),
    # -- capabilitystatement.html -------------------------------------------------------------------------
    R("CS-01", "capabilitystatement.html", "SHALL", "GET [base]/metadata: 200 with a standard CapabilityStatement"),
    R("CS-02", "capabilitystatement.html", "TABLE", "it lists exactly the interactions, search parameters and "
      "includes the server supports, and the CareConnect profiles"),
    # -- developing.html (SSP headers) and the consumer side ------------------------------------------------
    R("CO-01", "developing.html", "MUST", "a consumer sends Ssp-TraceID, Ssp-From, Ssp-To and Ssp-InteractionID "
      "on every request (ours does; the provider logs them)"),
    R("CO-02", "appointment.html", "MUST", "our consumer searches with the page's parameters and books with the "
      "example form (contained Patient, Slot by identifier; no DocumentReference: we hold no document to point "
      "to); two portals book each other"),
    R("CO-03", "cancel_an_appointment.html", "MUST", "our consumer cancels by reading the Appointment and PUTting "
      "it back with status cancelled and If-Match"),
    R("ALL-01", "(all pages)", "MUST", "every body answered or sent parses as its FHIR STU3 resource"),
)

BY_ID = {r.id: r for r in REQUIREMENTS}
assert len(BY_ID) == len(REQUIREMENTS), "requirement ids are unique"
