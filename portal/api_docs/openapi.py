"""The OpenAPI 3.1 document of our JSON APIs, built from the code's own limits so it cannot drift.

It describes what integrators call: the referral webhook, the consultation document, the OAuth2 token
endpoint and the FHIR STU3 paths the CapabilityStatement lists. The fuzz tests (Schemathesis) run every
operation in it against the app, so an answer not listed here is a failing test.
"""

import json

from portal import input_rules
from portal.fhir import oauth, parsing, search as fhir_search
from portal.fhir.resources import NHS_NUMBER_SYSTEM
from portal.referrals import intake
from portal.scheduling.models import SLOT_STATUSES

MAX_ID = parsing.MAX_ID
FHIR_JSON = "application/fhir+json"
PROBLEM_JSON = "application/problem+json"

# The worked example of the signing scheme: made with the real `sign`, so it is right by construction.
EXAMPLE_SECRET = "example-webhook-secret"
EXAMPLE_TIMESTAMP = "1767225600"  # 2026-01-01T00:00:00Z
EXAMPLE_REFERRAL = {
    "JournalGuid": "240b54a7-8c2a-4c3c-80a4-0bc63e2c9493",
    "PID": "13116900216",
    "FormatId": "http://ehelse.no/xmlstds/henvisning/2017-11-30",
    "MessageTimestamp": "2022-11-08T22:51:10.1127156Z",
    "Firstname": "Line",
    "Lastname": "Danser",
    "Email": "line.danser@example.com",
    "PhoneNumber": "+4712345678",
}
EXAMPLE_BODY = json.dumps(EXAMPLE_REFERRAL, separators=(",", ":"))


class Text(str):
    """English text of the document, as the JSON says it, that the readable page (views.py) says in the reader's
    language: it keeps its message id and its values (a value may be Text or Code itself)."""

    def __new__(cls, msgid: str, **params):
        text = super().__new__(cls, msgid % params if params else msgid)
        text.msgid, text.params = msgid, params
        return text


class Code(str):
    """A name or value the readable page shows as code, never translated."""


def N_(msgid: str, **params) -> Text:
    """Marks the document's English for translation (extracted like _()); the JSON keeps the English."""
    return Text(msgid, **params)


def signing_example() -> dict:
    return {"secret": EXAMPLE_SECRET, "timestamp": EXAMPLE_TIMESTAMP, "body": EXAMPLE_BODY,
            "signed_text": f"{EXAMPLE_TIMESTAMP}.{EXAMPLE_BODY}",
            "signature": intake.sign(EXAMPLE_SECRET, EXAMPLE_TIMESTAMP, EXAMPLE_BODY.encode())}


TEXT_RULES = N_("Text is normalised to Unicode NFC and trimmed. Refused with 422 naming the field: control "
                "characters (line breaks only in free text), text-direction controls (U+202A-U+202E, "
                "U+2066-U+2069), U+FFFD, noncharacters, and values made only of invisible characters.")
BODY_RULES = N_("Every JSON body: UTF-8; at most %(depth)s levels deep; integers of at most %(digits)s digits; "
                "decimals that fit a 64-bit float (no NaN or Infinity); strings of at most %(chars)s characters "
                "with no lone surrogates; objects of at most %(keys)s keys, each key once. Breaking one is 400 "
                "naming where.", depth=input_rules.MAX_DEPTH, digits=input_rules.MAX_INTEGER_DIGITS,
                chars=input_rules.MAX_STRING_CHARS, keys=input_rules.MAX_KEYS)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, media_type: str = "application/json", **extra) -> dict:
    return {"content": {media_type: {"schema": schema, **extra}}}


def _answer(description: str, schema_name: str, media_type: str, headers: dict | None = None) -> dict:
    answer = {"description": description, **_json(_ref(schema_name), media_type)}
    if headers:
        answer["headers"] = headers
    return answer


def _problem(description: str) -> dict:
    return _answer(description, "Problem", PROBLEM_JSON)


def _outcome(description: str, headers: dict | None = None) -> dict:
    return _answer(description, "OperationOutcome", FHIR_JSON, headers)


def _fhir_errors(*statuses: int) -> dict:
    texts = {
        400: N_("The request is malformed: a malformed value of a known parameter (an unknown one is ignored, "
             "or a 400 under Prefer: handling=strict), a body that is not JSON or breaks the body rules. "
             "The OperationOutcome's expression names the element."),
        403: N_("No valid bearer token (missing, expired, malformed, of a disabled client) or one lacking the "
             "scope this interaction needs: 403, as the NHS Booking API asks."),
        404: N_("Not known to this client (a client sees only the appointments it booked)."),
        406: N_("_format asked for XML (we serve JSON only)."),
        409: N_("If-Match names a version that is no longer the current one: read the appointment again."),
        412: N_("No If-Match header: send the version you read (`W/\"<versionId>\"`)."),
        413: N_("The body is larger than %(bytes)s bytes.", bytes=parsing.MAX_BODY_BYTES),
        415: N_("The body is not sent as application/fhir+json."),
        422: N_("The resource is well-formed but not acceptable (a business rule, or an element other than "
             "status changed by a cancel); each issue names its element."),
    }
    return {str(s): _outcome(texts[s]) for s in statuses}


FORMAT_PARAMETER = {"name": "_format", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": list(fhir_search.JSON_FORMATS)},
                    "description": N_("FHIR's format override; JSON only (XML is 406, anything else 400).")}


def _schemas() -> dict:
    text = {"type": "string", "minLength": 1}
    return {
        "Problem": {
            "type": "object", "description": N_("RFC 9457 problem details."),
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "description": N_("One entry per refused field; field is null for "
                                                           "the body as a whole, else a path such as PID or "
                                                           "Firstname[0]."),
                           "items": {"type": "object", "required": ["field", "message"],
                                     "properties": {"field": {"type": ["string", "null"]},
                                                    "message": {"type": "string"}}}},
                "referral_id": {"type": "integer", "description": N_("409: the referral already stored.")},
            },
        },
        "Referral": {
            "type": "object",
            "description": N_("A referral from the referral system. Other fields are kept with the referral. "
                              "%(rules)s", rules=BODY_RULES),
            "required": list(intake.REQUIRED),
            "properties": {
                "JournalGuid": {"type": "string", "format": "uuid",
                                "description": N_("The referral's id at the sender: the same id with the same "
                                               "content again is a replay (200), with other content a "
                                               "conflict (409).")},
                "PID": {"type": "string", "pattern": "^[0-9]{11}$",
                        "description": N_("Fødselsnummer: 11 digits, check digits and birth date verified.")},
                "FormatId": {**text, "maxLength": intake.NAME_MAX},
                "MessageTimestamp": {
                    "type": "string", "format": "date-time", "maxLength": 64,
                    "description": N_("ISO 8601 with Z or ±hh:mm; up to 12 fraction digits (past six are "
                                      "dropped); a moment between the years %(first)s and %(last)s in UTC.",
                                      first=input_rules.EARLIEST.year, last=input_rules.LATEST.year)},
                "Firstname": {**text, "maxLength": intake.NAME_MAX, "description": TEXT_RULES},
                "Lastname": {**text, "maxLength": intake.NAME_MAX, "description": TEXT_RULES},
                "PhoneNumber": {**text, "maxLength": 32,
                                "description": N_("A possible phone number (Norway when no +country code). "
                                               "A number no operator would route is accepted and flagged "
                                               "for the secretary to check.")},
                "Email": {"type": ["string", "null"], "maxLength": 254,
                          "description": N_("Optional; empty or null for none.")},
            },
            "example": EXAMPLE_REFERRAL,
        },
        "ReferralAccepted": {"type": "object", "required": ["referral_id"],
                             "properties": {"referral_id": {"type": "integer"}}},
        "Consultation": {
            "type": "object",
            "required": ["id", "patient", "source", "state", "enabledChannels", "primaryChannel", "category"],
            "properties": {
                "id": {"type": "integer"},
                "patient": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                                             "phoneNumber": {"type": ["string", "null"]}}},
                "serviceProvider": {"type": ["object", "null"]},
                "serviceProviderId": {"type": ["integer", "null"]},
                "source": {"type": "string", "enum": ["referral", "direct"]},
                "state": {"type": "string"},
                "videoRoom": {"type": ["object", "null"]},
                "chatRoom": {"type": ["object", "null"]},
                "enabledChannels": {"type": "array", "items": {"type": "string"}},
                "primaryChannel": {"type": "string"},
                "category": {"type": "string"},
                "code": {"type": ["string", "null"]},
                "options": {"type": ["object", "null"]},
            },
        },
        "TokenRequest": {
            "type": "object", "required": ["grant_type"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                "scope": {"type": "string", "description": N_("Space-separated; of: %(scopes)s. Omitted: every scope "
                                                              "of the client.", scopes=Code(" ".join(oauth.SCOPES)))},
                "client_id": {"type": "string", "description": N_("With client_secret, instead of HTTP Basic.")},
                "client_secret": {"type": "string"},
            },
        },
        "Token": {
            "type": "object", "required": ["access_token", "token_type", "expires_in"],
            "properties": {"access_token": {"type": "string"}, "token_type": {"const": "Bearer"},
                           "expires_in": {"type": "integer"}, "scope": {"type": "string"}},
        },
        "OAuthError": {
            "type": "object", "required": ["error"],
            "description": N_("RFC 6749 section 5.2: invalid_request, invalid_client, invalid_grant, "
                           "unauthorized_client, unsupported_grant_type or invalid_scope."),
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
        },
        "OperationOutcome": {
            "type": "object", "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"const": "OperationOutcome"},
                "issue": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["severity", "code"],
                    "properties": {"severity": {"type": "string"}, "code": {"type": "string"},
                                   "diagnostics": {"type": "string"},
                                   "expression": {"type": "array", "items": {"type": "string"}}}}},
            },
        },
        "FhirResource": {"type": "object", "required": ["resourceType"],
                         "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}}},
        "Bundle": {
            "type": "object", "required": ["resourceType", "type", "total"],
            "properties": {"resourceType": {"const": "Bundle"}, "type": {"const": "searchset"},
                           "total": {"type": "integer"},
                           "entry": {"type": "array", "items": {"type": "object"}}},
        },
        "AppointmentIn": {
            "type": "object", "required": ["resourceType", "status", "start", "end", "slot", "participant",
                                           "contained"],
            "description": N_("A booked Appointment for a free slot, the patient contained. %(rules)s",
                              rules=BODY_RULES),
            "properties": {
                "resourceType": {"const": "Appointment"},
                "status": {"const": "booked"},
                "start": {"type": "string", "format": "date-time",
                          "description": N_("The slot's start; a moment between the years %(first)s and %(last)s.",
                                            first=input_rules.EARLIEST.year, last=input_rules.LATEST.year)},
                "end": {"type": "string", "format": "date-time"},
                "slot": {"type": "array", "minItems": 1, "maxItems": 1,
                         "items": {"type": "object", "required": ["reference"],
                                   "properties": {"reference": {
                                       "type": "string", "pattern": "^(#.+|(.*/)?Slot/[0-9]{1,10})$",
                                       "description": N_("#<contained Slot with the slot's UUID identifier> "
                                                      "(the NHS Booking API's form) or Slot/<id>")}}}},
                "description": {"type": "string", "maxLength": 500, "description": TEXT_RULES},
                "comment": {"type": "string", "maxLength": 1000, "description": N_("Free text: line breaks kept.")},
                "participant": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "properties": {"actor": {"type": "object", "properties": {
                        "reference": {"type": "string", "description": N_("#<id of the contained Patient>")}}},
                        "status": {"type": "string"}}}},
                "contained": {"type": "array", "minItems": 1, "items": {"type": "object"},
                              "description": N_("The Patient (see PatientIn), the Slot (identifier, start, end, "
                                             "schedule) when referenced as #id, a DocumentReference if any.")},
            },
        },
        "PatientIn": {
            "type": "object", "required": ["resourceType", "id", "name"],
            "description": N_("Without an NHS number identifier the patient gets our local one (birthDate needed)."),
            "properties": {
                "resourceType": {"const": "Patient"}, "id": {"type": "string"},
                "identifier": {"type": "array", "items": {"type": "object", "properties": {
                    "system": {"type": "string", "enum": [NHS_NUMBER_SYSTEM]},
                    "value": {"type": "string", "description": N_("10 digits, modulus 11 check digit verified")}}}},
                "name": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
                    "family": {"type": "string", "maxLength": parsing.NAME_MAX, "description": TEXT_RULES},
                    "given": {"type": "array", "items": {"type": "string", "maxLength": parsing.NAME_MAX}}}}},
                "birthDate": {"type": "string", "format": "date",
                              "description": N_("YYYY-MM-DD, between the years %(first)s and %(last)s",
                                                first=input_rules.EARLIEST.year, last=input_rules.LATEST.year)},
            },
        },
        "AppointmentUpdate": {
            "type": "object", "required": ["resourceType", "status"],
            "description": N_("The Appointment as read, sent back with status=cancelled (it frees the slot); "
                           "any other change is a 422, the same status again answers the appointment as it is."),
            "properties": {"resourceType": {"const": "Appointment"}, "id": {"type": "string"},
                           "status": {"type": "string", "enum": ["cancelled", "booked"]}},
        },
    }


VERSION_HEADERS = {
    "Location": {"schema": {"type": "string"}, "description": "…/Appointment/<id>/_history/<version>"},
    "ETag": {"schema": {"type": "string"}, "description": 'W/"<version>"'},
    "Last-Modified": {"schema": {"type": "string"}},
}


def _id_parameter(description: str) -> dict:
    return {"name": "id", "in": "path", "required": True, "description": description,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _fhir_read(kind: str, scope: str) -> dict:
    return {"get": {
        "operationId": f"read{kind}", "tags": ["FHIR STU3"], "summary": N_("Read a %(kind)s", kind=Code(kind)),
        "security": [{"fhirToken": [scope]}],
        "parameters": [_id_parameter(N_("The %(kind)s's id", kind=Code(kind))), FORMAT_PARAMETER],
        "responses": {
            "200": _answer(N_("The %(kind)s.", kind=Code(kind)), "FhirResource", FHIR_JSON,
                           {"ETag": {"schema": {"type": "string"}, "description": 'W/"<version>"'}}),
            **_fhir_errors(400, 403, 404, 406),
        },
    }}


def _paths() -> dict:
    example = signing_example()
    return {
        "/api/referrals": {"post": {
            "operationId": "receiveReferral", "tags": ["Referral webhook"],
            "summary": N_("Receive a referral from the referral system"),
            "description": N_(
                "Signed with HMAC-SHA256 over `<X-Referral-Timestamp>.<raw body>` with the shared secret "
                "(`REFERRAL_WEBHOOK_SECRET`); the signature is sent as `sha256=<hex>`. The timestamp is unix "
                "seconds and may differ from our clock by at most `REFERRAL_MAX_SKEW_SECONDS` (300). "
                "The body may be at most %(bytes)s bytes. The same `JournalGuid` with the same "
                "content again is answered 200 with the same id and stores nothing new.", bytes=intake.MAX_BODY_BYTES),
            "security": [{"referralSignature": []}],
            "parameters": [
                {"name": "X-Referral-Timestamp", "in": "header", "required": True,
                 "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}, "example": example["timestamp"],
                 "description": N_("Unix seconds, ASCII digits only.")},
            ],
            "requestBody": {"required": True, **_json(_ref("Referral"))},
            "responses": {
                "201": {"description": N_("Stored; awaiting screening."), **_json(_ref("ReferralAccepted"))},
                "200": {"description": N_("A replay of a referral already stored: nothing new is stored."),
                        **_json(_ref("ReferralAccepted"))},
                "400": _problem(N_("The body cannot be read: not UTF-8, not JSON, not an object, or a body "
                                "rule broken. `errors[0].field` names where (null: the whole body).")),
                "401": _problem(N_("Missing, stale or wrong signature headers; nothing else was looked at.")),
                "409": _problem(N_("This JournalGuid was received before with different content.")),
                "413": _problem(N_("The body is larger than %(bytes)s bytes.", bytes=intake.MAX_BODY_BYTES)),
                "422": _problem(N_("Fields are missing or not acceptable; `errors` names each one.")),
            },
        }},
        "/api/consultations/{id}": {"get": {
            "operationId": "readConsultation", "tags": ["Consultations"],
            "summary": N_("The consultation document for its doctor or its patient"),
            "description": N_("With the assigned doctor's staff session or the patient's session after the "
                           "identity check; anyone else gets 404, as for a consultation that does not exist."),
            "security": [{"portalSession": []}, {}],
            "parameters": [_id_parameter(N_("The consultation's id"))],
            "responses": {"200": {"description": N_("The consultation."), **_json(_ref("Consultation"))},
                          "404": _problem(N_("Not found, or not yours."))},
        }},
        "/oauth/token": {"post": {
            "operationId": "issueToken", "tags": ["OAuth2"],
            "summary": N_("Client credentials grant: an access token for the FHIR API"),
            "description": N_("Authenticate with HTTP Basic (client id and secret) or with client_id and "
                           "client_secret in the form. The token is a JWT (HS256) valid API_TOKEN_TTL_SECONDS "
                           "(3600). At most 60 requests a minute per address."),
            "security": [{"clientBasic": []}, {}],
            "requestBody": {"required": True, **_json(_ref("TokenRequest"), "application/x-www-form-urlencoded")},
            "responses": {
                "200": {"description": N_("The access token."), **_json(_ref("Token"))},
                "400": {"description": N_("Not a client credentials request, or a scope the client lacks."),
                        **_json(_ref("OAuthError"))},
                "401": {"description": N_("Unknown client, wrong secret or a disabled client."),
                        **_json(_ref("OAuthError"))},
                "429": _problem(N_("Too many token requests from this address; wait a minute.")),
            },
        }},
        "/fhir/stu3/metadata": {"get": {
            "operationId": "capabilities", "tags": ["FHIR STU3"], "summary": N_("The CapabilityStatement"),
            "security": [{}],
            "parameters": [FORMAT_PARAMETER],
            "responses": {"200": _answer(N_("What this server supports."), "FhirResource", FHIR_JSON),
                          **_fhir_errors(400, 406)},
        }},
        "/fhir/stu3/Slot": {"get": {
            "operationId": "searchSlots", "tags": ["FHIR STU3"], "summary": N_("Search slots (NHS Booking API)"),
            "security": [{"fhirToken": ["slot/*.read"]}],
            "parameters": [
                *({"name": name, "in": "query", "schema": {"type": "string"},
                   "description": N_("The healthcare service's id (or `HealthcareService/<id>`); optional.")}
                  for name in fhir_search.SERVICE_PARAMS),
                {"name": "start", "in": "query", "style": "form", "explode": True,
                 "schema": {"type": "array", "items": {"type": "string"}},
                 "description": N_("Any number of times (all hold): a prefix (%(prefixes)s) then a date or "
                                   "dateTime with an offset; at the value's precision; years %(first)s-%(last)s.",
                                   prefixes=Code("eq ne gt lt ge le sa eb ap"), first=fhir_search.EARLIEST_YEAR,
                                   last=fhir_search.LATEST_YEAR)},
                {"name": "status", "in": "query", "schema": {"type": "string"},
                 "description": N_("One or more of %(statuses)s, comma-separated.",
                                   statuses=Code(", ".join(SLOT_STATUSES)))},
                *({"name": form, "in": "query", "style": "form", "explode": True,
                   "schema": {"type": "array", "items": {"type": "string"}},
                   "description": N_("Any of %(includes)s (':' or '.', any case); others are ignored.",
                                     includes=Code(", ".join(fhir_search.SLOT_INCLUDES)))}
                  for form in fhir_search.INCLUDE_PARAMS),
                FORMAT_PARAMETER,
            ],
            "responses": {"200": _answer(N_("A searchset Bundle of the slots, with what was included, once each."),
                                         "Bundle", FHIR_JSON),
                          **_fhir_errors(400, 403, 406)},
        }},
        "/fhir/stu3/Appointment": {
            "post": {
                "operationId": "bookAppointment", "tags": ["FHIR STU3"], "summary": N_("Book a free slot"),
                "security": [{"fhirToken": ["appointment/*.write"]}],
                "parameters": [FORMAT_PARAMETER],
                "requestBody": {"required": True, **_json(_ref("AppointmentIn"), FHIR_JSON)},
                "responses": {
                    "201": _answer(N_("Booked: the stored Appointment."), "FhirResource", FHIR_JSON, VERSION_HEADERS),
                    **_fhir_errors(400, 403, 406, 413, 415, 422),
                },
            },
            "get": {
                "operationId": "searchAppointments", "tags": ["FHIR STU3"],
                "summary": N_("A patient's appointments you booked that have not ended"),
                "security": [{"fhirToken": ["appointment/*.write"]}],
                "parameters": [
                    *({"name": name, "in": "query", "schema": {"type": "string"},
                       "description": N_("The patient as system|value (NHS number or our local identifier).")}
                      for name in fhir_search.PATIENT_PARAMS),
                    {"name": "_id", "in": "query", "schema": {"type": "string"}},
                    FORMAT_PARAMETER,
                ],
                "responses": {"200": _answer(N_("A searchset Bundle, not paged."), "Bundle", FHIR_JSON),
                              **_fhir_errors(400, 403, 406)},
            },
        },
        "/fhir/stu3/Appointment/{id}": {
            "get": {
                "operationId": "readAppointment", "tags": ["FHIR STU3"],
                "summary": N_("Read an appointment you booked"),
                "security": [{"fhirToken": ["appointment/*.write"]}],
                "parameters": [_id_parameter(N_("The appointment's id")), FORMAT_PARAMETER],
                "responses": {"200": _answer(N_("The Appointment."), "FhirResource", FHIR_JSON, VERSION_HEADERS),
                              **_fhir_errors(400, 403, 404, 406)},
            },
            "put": {
                "operationId": "updateAppointment", "tags": ["FHIR STU3"],
                "summary": N_("Cancel an appointment you booked (the Appointment as read, status=cancelled)"),
                "security": [{"fhirToken": ["appointment/*.write"]}],
                "parameters": [_id_parameter(N_("The appointment's id")), FORMAT_PARAMETER,
                               {"name": "If-Match", "in": "header", "required": False,
                                "schema": {"type": "string"},
                                "description": N_('`W/"<versionId>"` as read; without it the answer is 412, as the '
                                               'NHS Booking API asks (so it is not marked required here)')}],
                "requestBody": {"required": True, **_json(_ref("AppointmentUpdate"), FHIR_JSON)},
                "responses": {"200": _answer(N_("The Appointment as it now is."), "FhirResource", FHIR_JSON,
                                             VERSION_HEADERS),
                              **_fhir_errors(400, 403, 404, 406, 409, 412, 413, 415, 422)},
            },
        },
        "/fhir/stu3/Appointment/{id}/_history/{vid}": {"get": {
            "operationId": "readAppointmentVersion", "tags": ["FHIR STU3"], "summary": N_("Read one version"),
            "security": [{"fhirToken": ["appointment/*.write"]}],
            "parameters": [_id_parameter(N_("The appointment's id")),
                           {"name": "vid", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}, FORMAT_PARAMETER],
            "responses": {"200": _answer(N_("That version."), "FhirResource", FHIR_JSON, VERSION_HEADERS),
                          **_fhir_errors(400, 403, 404, 406)},
        }},
        "/fhir/stu3/PractitionerRole/{id}": _fhir_read("PractitionerRole", "schedule/*.read"),
        "/fhir/stu3/Organization/{id}": {"get": {
            "operationId": "readOrganization", "tags": ["FHIR STU3"], "summary": N_("Read an Organization (ODS code)"),
            "security": [{"fhirToken": ["organization/*.read"]}],
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9]{1,20}$"}}, FORMAT_PARAMETER],
            "responses": {"200": _answer(N_("The Organization."), "FhirResource", FHIR_JSON),
                          **_fhir_errors(400, 403, 404, 406)},
        }},
        "/fhir/stu3/Schedule/{id}": _fhir_read("Schedule", "schedule/*.read"),
        "/fhir/stu3/Practitioner/{id}": _fhir_read("Practitioner", "schedule/*.read"),
        "/fhir/stu3/Location/{id}": _fhir_read("Location", "location/*.read"),
        "/fhir/stu3/HealthcareService/{id}": _fhir_read("HealthcareService", "healthcareservice/*.read"),
    }


def _plain(value):
    """The document as plain JSON values: Text and Code are str subclasses only the readable page needs."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, str) else value


def openapi_document(texts: bool = False) -> dict:
    """The document; with `texts`, its English stays openapi.Text (for the readable page to translate)."""
    document = _document()
    return document if texts else _plain(document)


def _document() -> dict:
    example = signing_example()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": N_("Care Portal APIs"),
            "version": "1",
            "description": (
                "The JSON APIs of Care Portal: the referral webhook, the consultation document, the OAuth2 "
                "token endpoint and the FHIR STU3 booking API. Errors are RFC 9457 problem+json under /api "
                "and FHIR OperationOutcome under /fhir; no input is answered with a 5xx.\n\n"
                f"Worked example of the webhook signature: with the secret `{example['secret']}`, the "
                f"timestamp `{example['timestamp']}` and the body `{example['body']}`, the signed text is "
                f"`<timestamp>.<body>` and the header is `X-Referral-Signature: {example['signature']}`."),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "Referral webhook"}, {"name": "Consultations"}, {"name": "OAuth2"},
                 {"name": "FHIR STU3"}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "referralSignature": {
                    "type": "apiKey", "in": "header", "name": "X-Referral-Signature",
                    "description": "sha256=<hex of HMAC-SHA256(secret, '<X-Referral-Timestamp>.<raw body>')>"},
                "fhirToken": {
                    "type": "oauth2", "description": N_("A bearer JWT from POST /oauth/token."),
                    "flows": {"clientCredentials": {"tokenUrl": "/oauth/token",
                                                    "scopes": {s: s for s in oauth.SCOPES}}}},
                "clientBasic": {"type": "http", "scheme": "basic",
                                "description": N_("The API client's id and secret.")},
                "portalSession": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": N_("A signed-in doctor's or an identified patient's session.")},
            },
        },
    }
