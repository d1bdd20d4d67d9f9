"""The FHIR STU3 provider API under /fhir/stu3: bearer tokens, not sessions (so no CSRF)."""

import logging
from datetime import date
from functools import wraps

import orjson
from flask import Blueprint, Response, g, request
from flask_babel import gettext as _

from portal.extensions import csrf, limiter
from portal.fhir import oauth, parsing, resources, services
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
PUBLISHED = date(2026, 11, 23).isoformat()


def fhir_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    # orjson: a week of slots is ~75 KiB of JSON, which the standard encoder took ~0.5 ms to write.
    response = Response(orjson.dumps(body), status=status, headers=headers or {})
    response.mimetype = FHIR_JSON
    return response


def outcome(status: int, code: str, diagnostics: str, expression=None, issues=None, headers=None) -> Response:
    return fhir_response(resources.operation_outcome(code, diagnostics, expression, issues), status, headers)


def _base_url() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix



@bp.before_request
def _known_parameters_only():
    """Only Slot search takes parameters besides `_format`; elsewhere one is a client's mistake (400),
    as an unknown search parameter is. `_format` may ask for XML: we serve JSON only and say so (406)."""
    if request.endpoint != "fhir.search_slots":
        unknown = sorted({name for name in request.args if name != "_format"})
        if unknown:
            return outcome(400, "not-supported", _("unknown parameter %(name)r", name=unknown[0]), [unknown[0]])
    asked = request.args.getlist("_format")
    if any(value not in parsing.JSON_FORMATS for value in asked):
        return outcome(406, "not-supported", _("only JSON is served: _format must be one of %(formats)s",
                                               formats=", ".join(parsing.JSON_FORMATS)), ["_format"])
    return None


@bp.before_request
def _log_proxy_headers():
    ssp = {name: request.headers.get(name) for name in SSP_HEADERS if request.headers.get(name)}
    if ssp:
        log.info("fhir %s %s request_id=%s %s", request.method, request.path, g.get("request_id"),
                 " ".join(f"{k}={v}" for k, v in ssp.items()))


def needs(action: str):
    """The bearer token must be valid (401) and carry the scope the action needs (403)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            try:
                caller = oauth.caller_from_authorization(request.headers.get("Authorization"))
            except oauth.TokenRejected as exc:
                return outcome(401, "login", str(exc), headers={"WWW-Authenticate": 'Bearer realm="fhir"'})
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


@bp.get("/metadata")
def metadata():
    return fhir_response(resources.capability_statement(_base_url(), PUBLISHED))


@bp.get("/Slot")
@needs("fhir.slot.search")
def search_slots():
    try:
        search = parsing.parse_slot_search([(k, v) for k, v in request.args.items(multi=True) if k != "_format"])
    except parsing.InvalidRequest as exc:
        return _invalid(exc)
    try:
        return fhir_response(services.slot_search_bundle(search, _base_url()))
    except services.TooManySlots:
        return outcome(400, "too-costly", f"more than {services.SEARCH_LIMIT} slots match; narrow the start window",
                       ["start"])


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
    try:
        appointment = services.book_appointment(incoming, g.api_caller.actor)
    except scheduling.SlotNotFound:
        return outcome(422, "not-found", f"Slot/{incoming.slot_id} does not exist", ["Appointment.slot"])
    except scheduling.SlotTaken:
        return outcome(422, "conflict", f"Slot/{incoming.slot_id} is no longer free; choose another slot",
                       ["Appointment.slot"])
    except scheduling.SlotInPast:
        return outcome(422, "business-rule", f"Slot/{incoming.slot_id} has already started", ["Appointment.slot"])
    except scheduling.SlotMismatch:
        return outcome(422, "invalid", "start and end must be those of the slot",
                       ["Appointment.start", "Appointment.end"])
    location = f"{_base_url()}/Appointment/{appointment.id}/_history/{appointment.version}"
    return fhir_response(services.appointment_json(appointment), 201,
                         {"Location": location, "ETag": f'W/"{appointment.version}"'})


def _read(kind: str, resource_id: int) -> Response:
    body = services.read_resource(kind, resource_id)
    if body is None:
        return outcome(404, "not-found", f"{kind}/{resource_id} is not known")
    return fhir_response(body, headers={"ETag": f'W/"{body["meta"]["versionId"]}"'})


@bp.get("/Schedule/<int(max=2147483647):resource_id>")
@needs("fhir.schedule.read")
def read_schedule(resource_id: int):
    return _read("Schedule", resource_id)


@bp.get("/Practitioner/<int(max=2147483647):resource_id>")
@needs("fhir.practitioner.read")
def read_practitioner(resource_id: int):
    return _read("Practitioner", resource_id)


@bp.get("/Location/<int(max=2147483647):resource_id>")
@needs("fhir.location.read")
def read_location(resource_id: int):
    return _read("Location", resource_id)


@bp.get("/HealthcareService/<int(max=2147483647):resource_id>")
@needs("fhir.healthcareservice.read")
def read_healthcare_service(resource_id: int):
    return _read("HealthcareService", resource_id)


def _load_appointment(appointment_id: int, action: str):
    appointment = scheduling.get_appointment(appointment_id)
    caller = g.api_caller
    if appointment is None or client_decision(caller.client_id, caller.scopes, action, appointment) == 404:
        return None, outcome(404, "not-found", f"Appointment/{appointment_id} is not known")
    return appointment, None


@bp.get("/Appointment/<int(max=2147483647):appointment_id>")
@needs("fhir.appointment.read")
def read_appointment(appointment_id: int):
    appointment, problem = _load_appointment(appointment_id, "fhir.appointment.read")
    if problem:
        return problem
    body = services.appointment_json(appointment)
    audit.record_read("appointment.read", subject=appointment, patient_id=appointment.patient_id,
                      actor=g.api_caller.actor)
    return fhir_response(body, headers={"ETag": f'W/"{appointment.version}"'})


@bp.put("/Appointment/<int(max=2147483647):appointment_id>")
@needs("fhir.appointment.cancel")
def update_appointment(appointment_id: int):
    problem = _body_problem()
    if problem:
        return problem
    appointment, problem = _load_appointment(appointment_id, "fhir.appointment.cancel")
    if problem:
        return problem
    try:
        status = parsing.parse_appointment_update(request.get_data(cache=False), appointment_id)
    except (parsing.InvalidRequest, parsing.InvalidResource) as exc:
        return _invalid(exc)
    if status == appointment.status:
        body = services.appointment_json(appointment)
        audit.record_read("appointment.read", subject=appointment, patient_id=appointment.patient_id,
                          actor=g.api_caller.actor)
        return fhir_response(body, headers={"ETag": f'W/"{appointment.version}"'})
    if status != "cancelled":
        return outcome(422, "not-supported", "a cancelled appointment cannot be booked again; book a new one",
                       ["Appointment.status"])
    try:
        appointment = scheduling.cancel_appointment(appointment_id, actor=g.api_caller.actor)
    except scheduling.AlreadyCancelled:
        appointment = scheduling.get_appointment(appointment_id)
    return fhir_response(services.appointment_json(appointment), headers={"ETag": f'W/"{appointment.version}"'})
