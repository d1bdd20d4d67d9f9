"""The FHIR STU3 provider API under /fhir/stu3, as the NHS Booking API pages describe it: bearer
tokens, not sessions (so no CSRF); every error an OperationOutcome."""

import logging
from datetime import date, timezone
from email.utils import format_datetime
from functools import wraps

import orjson
from flask import Blueprint, Response, g, request

from portal import sqlite_writer
from portal.extensions import csrf, limiter
from portal.fhir import oauth, parsing, resources, search as params, services
from portal.scheduling import services as scheduling
from portal.security import audit
from portal.security.policy import CLIENT_SCOPE_RULES, client_decision

log = logging.getLogger(__name__)
bp = Blueprint("fhir", __name__, url_prefix="/fhir/stu3")
csrf.exempt(bp)
limiter.exempt(bp)

FHIR_JSON = "application/fhir+json"
ACCEPTED_TYPES = {"application/fhir+json", "application/json+fhir", "application/json"}
SSP_HEADERS = ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID")
PUBLISHED = date(2026, 12, 1).isoformat()


def fhir_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    # orjson: a week of slots is ~75 KiB of JSON, which the standard encoder took ~0.5 ms to write.
    response = Response(orjson.dumps(body), status=status, headers=headers or {})
    response.mimetype = FHIR_JSON
    return response


def outcome(status: int, code: str, diagnostics: str, expression=None, issues=None, headers=None) -> Response:
    return fhir_response(resources.operation_outcome(code, diagnostics, expression, issues), status, headers)


def _base_url() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix


def _strict() -> bool:
    return params.wants_strict(request.headers.get("Prefer"))


@bp.before_request
def _log_proxy_headers():
    ssp = {name: request.headers.get(name) for name in SSP_HEADERS if request.headers.get(name)}
    if ssp:
        log.info("fhir %s %s request_id=%s %s", request.method, request.endpoint, g.get("request_id"),
                 " ".join(f"{k}={v[:80]}" for k, v in ssp.items()))


@bp.before_request
def _query_parameters():
    """_format on any interaction; and on everything but the searches (which read their own), a parameter
    we do not know is ignored, or refused under `Prefer: handling=strict`."""
    try:
        for value in request.args.getlist(params.FORMAT_PARAM):
            params.read_format(value)
    except params.FormatNotAcceptable as exc:
        return outcome(406, "not-supported", str(exc), [params.FORMAT_PARAM])
    except params.InvalidSearch as exc:
        return outcome(400, "invalid", str(exc), issues=exc.issues)
    if request.endpoint in ("fhir.search_slots", "fhir.search_appointments") or not _strict():
        return None
    unknown = sorted({name for name in request.args if name != params.FORMAT_PARAM})
    if unknown:
        return outcome(400, "not-supported", f"unknown parameter {unknown[0][:80]!r} (Prefer: handling=strict)",
                       [unknown[0][:80]])
    return None


def needs(action: str):
    """The bearer token must be valid and carry the scope the action needs: 403 otherwise, as the booking
    pages ask (an OperationOutcome saying which)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            try:
                caller = oauth.caller_from_authorization(request.headers.get("Authorization"))
            except oauth.TokenRejected as exc:
                return outcome(403, "login", str(exc))
            if client_decision(caller.client_id, caller.scopes, action) == 403:
                return outcome(403, "forbidden", f"the access token lacks the scope this needs "
                                                 f"({CLIENT_SCOPE_RULES[action]})")
            g.api_caller = caller
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _body_problem() -> Response | None:
    if request.mimetype not in ACCEPTED_TYPES:
        return outcome(415, "not-supported", "send the resource as application/fhir+json")
    if (request.content_length or 0) > parsing.MAX_BODY_BYTES:
        return outcome(413, "too-long", f"the body may be at most {parsing.MAX_BODY_BYTES} bytes")
    return None


def _invalid(exc: parsing.InvalidRequest | parsing.InvalidResource) -> Response:
    status = 400 if isinstance(exc, parsing.InvalidRequest) else 422
    return outcome(status, "invalid", str(exc), issues=exc.issues)


def _http_date(moment) -> str:
    return format_datetime(moment.replace(tzinfo=timezone.utc), usegmt=True)


def _version_headers(body: dict, location: bool = False) -> dict:
    """ETag with the versionId, Last-Modified, and (create, update) the version's absolute Location."""
    version = body["meta"]["versionId"]
    headers = {"ETag": f'W/"{version}"'}
    if body["meta"].get("lastUpdated"):
        headers["Last-Modified"] = _http_date(parsing.parse_datetime(body["meta"]["lastUpdated"]))
    if location:
        headers["Location"] = f"{_base_url()}/Appointment/{body['id']}/_history/{version}"
    return headers


@bp.get("/metadata")
def metadata():
    return fhir_response(resources.capability_statement(_base_url(), PUBLISHED))


# --- Slot search ----------------------------------------------------------------------------------------

@bp.get("/Slot")
@needs("fhir.slot.search")
def search_slots():
    try:
        search = params.parse_slot_search(list(request.args.items(multi=True)), strict=_strict())
    except params.InvalidSearch as exc:
        return outcome(400, "invalid", str(exc), issues=exc.issues)
    try:
        return fhir_response(services.slot_search_bundle(search, _base_url()))
    except services.TooManySlots:
        return outcome(400, "too-costly", f"more than {services.SEARCH_LIMIT} slots match; narrow the start window",
                       ["start"])


# --- reads of the resources slots link to -------------------------------------------------------------

def _read(kind: str, resource_id) -> Response:
    body = services.read_resource(kind, resource_id)
    if body is None:
        return outcome(404, "not-found", f"{kind}/{resource_id} is not known")
    return fhir_response(body, headers={"ETag": f'W/"{body["meta"]["versionId"]}"'})


@bp.get("/Schedule/<int:resource_id>")
@needs("fhir.schedule.read")
def read_schedule(resource_id: int):
    return _read("Schedule", resource_id)


@bp.get("/Practitioner/<int:resource_id>")
@needs("fhir.practitioner.read")
def read_practitioner(resource_id: int):
    return _read("Practitioner", resource_id)


@bp.get("/PractitionerRole/<int:resource_id>")
@needs("fhir.practitionerrole.read")
def read_practitioner_role(resource_id: int):
    return _read("PractitionerRole", resource_id)


@bp.get("/Location/<int:resource_id>")
@needs("fhir.location.read")
def read_location(resource_id: int):
    return _read("Location", resource_id)


@bp.get("/HealthcareService/<int:resource_id>")
@needs("fhir.healthcareservice.read")
def read_healthcare_service(resource_id: int):
    return _read("HealthcareService", resource_id)


@bp.get("/Organization/<string(maxlength=20):code>")
@needs("fhir.organization.read")
def read_organization(code: str):
    if not code.isalnum():
        return outcome(404, "not-found", "Organization ids are ODS codes")
    return _read("Organization", code.upper())


# --- Appointments -------------------------------------------------------------------------------------

@bp.post("/Appointment")
@needs("fhir.appointment.book")
def create_appointment():
    problem = _body_problem()
    if problem:
        return problem
    try:
        incoming = parsing.parse_appointment(request.get_data(cache=False))
    except (parsing.InvalidRequest, parsing.InvalidResource) as exc:
        return _invalid(exc)
    slot = f"Slot/{incoming.slot_id}" if incoming.slot_id is not None else f"the slot {incoming.slot_uuid}"
    try:
        appointment = services.book_appointment(incoming, g.api_caller.actor)
    except scheduling.SlotNotFound:
        return outcome(422, "not-found", f"{slot} does not exist", ["Appointment.slot"])
    except services.ContainedSlotMismatch:
        return outcome(422, "invalid", f"the contained Slot's start, end and schedule must be those of {slot}",
                       ["Slot.start", "Slot.end", "Slot.schedule"])
    except scheduling.SlotTaken:
        return outcome(422, "conflict", f"{slot} is no longer free; choose another slot", ["Appointment.slot"])
    except scheduling.SlotInPast:
        return outcome(422, "business-rule", f"{slot} has already started", ["Appointment.slot"])
    except scheduling.SlotMismatch:
        return outcome(422, "invalid", "start and end must be within the slot",
                       ["Appointment.start", "Appointment.end"])
    body = services.appointment_json(appointment)
    return fhir_response(body, 201, _version_headers(body, location=True))


def _load_appointment(appointment_id: int, action: str):
    appointment = scheduling.get_appointment(appointment_id)
    caller = g.api_caller
    if appointment is None or client_decision(caller.client_id, caller.scopes, action, appointment) == 404:
        return None, outcome(404, "not-found", f"Appointment/{appointment_id} is not known")
    return appointment, None


def _audited(appointment, body: dict) -> dict:
    audit.record_read("appointment.read", subject=appointment, patient_id=appointment.patient_id,
                      actor=g.api_caller.actor)
    return body


@bp.get("/Appointment/<int:appointment_id>")
@sqlite_writer.audited_page
@needs("fhir.appointment.read")
def read_appointment(appointment_id: int):
    appointment, problem = _load_appointment(appointment_id, "fhir.appointment.read")
    if problem:
        return problem
    body = _audited(appointment, services.appointment_json(appointment))
    return fhir_response(body, headers=_version_headers(body))


@bp.get("/Appointment/<int:appointment_id>/_history/<int:version>")
@sqlite_writer.audited_page
@needs("fhir.appointment.read")
def read_appointment_version(appointment_id: int, version: int):
    appointment, problem = _load_appointment(appointment_id, "fhir.appointment.read")
    if problem:
        return problem
    held = scheduling.appointment_version(appointment_id, version)
    if held is None:
        return outcome(404, "not-found", f"Appointment/{appointment_id} has no version {version}")
    body = _audited(appointment, services.appointment_json(appointment, held))
    return fhir_response(body, headers=_version_headers(body))


def _if_match() -> int | None | Response:
    raw = request.headers.get("If-Match")
    if raw is None:
        return outcome(412, "business-rule", "send If-Match: W/\"<versionId>\" with the version you read",
                       ["If-Match"])
    tag = raw.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or len(tag) > 9:
        return outcome(400, "invalid", "If-Match must be W/\"<versionId>\"", ["If-Match"])
    return int(tag)


@bp.put("/Appointment/<int:appointment_id>")
@needs("fhir.appointment.cancel")
def update_appointment(appointment_id: int):
    """Cancel: the Appointment as read, sent back with status cancelled and the version read in If-Match."""
    problem = _body_problem()
    if problem:
        return problem
    appointment, problem = _load_appointment(appointment_id, "fhir.appointment.cancel")
    if problem:
        return problem
    body = request.get_data(cache=False)
    try:
        parsing.read_json(body, "Appointment")  # a body that is simply invalid is a 400 whatever else is wrong
    except (parsing.InvalidRequest, parsing.InvalidResource) as exc:
        return _invalid(exc)
    expected = _if_match()
    if isinstance(expected, Response):
        return expected
    if expected != appointment.version:
        return outcome(409, "conflict", f"Appointment/{appointment_id} is at version {appointment.version}, not "
                                        f"{expected}: read it again", ["If-Match"])
    current = services.appointment_json(appointment)
    try:
        status = parsing.parse_appointment_update(body, appointment_id, current)
    except (parsing.InvalidRequest, parsing.InvalidResource) as exc:
        return _invalid(exc)
    if status == appointment.status:
        return fhir_response(_audited(appointment, current), headers=_version_headers(current, location=True))
    if status != "cancelled":
        return outcome(422, "not-supported", "a cancelled appointment cannot be booked again; book a new one",
                       ["Appointment.status"])
    try:
        appointment = scheduling.cancel_appointment(appointment_id, actor=g.api_caller.actor,
                                                    expected_version=expected)
    except (scheduling.VersionConflict, scheduling.AlreadyCancelled):
        return outcome(409, "conflict", f"Appointment/{appointment_id} changed meanwhile: read it again",
                       ["If-Match"])
    body = services.appointment_json(appointment)
    return fhir_response(body, headers=_version_headers(body, location=True))


@bp.get("/Appointment")
@needs("fhir.appointment.search")
def search_appointments():
    """A patient's appointments (the page's search), all in one Bundle: the page forbids paging."""
    try:
        search = params.parse_appointment_search(list(request.args.items(multi=True)), strict=_strict())
    except params.InvalidSearch as exc:
        return outcome(400, "invalid", str(exc), issues=exc.issues)
    found = services.search_appointments(search, f"api_client:{g.api_caller.client_id}")
    base = _base_url()
    entries = []
    for appointment in found:
        body = _audited(appointment, services.appointment_json(appointment))
        entries.append({"fullUrl": f"{base}/Appointment/{body['id']}/_history/{body['meta']['versionId']}",
                        "resource": body, "search": {"mode": "match"}})
    query = search.self_query()
    return fhir_response(resources.searchset(entries, len(entries), f"{base}/Appointment?{query}",
                                             services.new_bundle_id()))
