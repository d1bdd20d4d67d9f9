"""HTTP adapters to the systems the consumer side of booking talks to. Every call has a timeout;
every failure (timeout, refused connection, 5xx, unreadable answer) becomes ExternalSystemError."""

import hashlib
import logging
import uuid

import redis
import requests
from flask import current_app

from portal.extensions import redis_client

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"


class ExternalSystemError(Exception):
    def __init__(self, system: str, detail: str):
        super().__init__(f"{system}: {detail}")
        self.system = system
        self.detail = detail


class NotFound(Exception):
    pass


def _call(system: str, method: str, url: str, **kwargs) -> requests.Response:
    try:
        response = requests.request(method, url, timeout=current_app.config["EXTERNAL_TIMEOUT_SECONDS"], **kwargs)
    except requests.Timeout:
        raise ExternalSystemError(system, "did not answer in time") from None
    except requests.RequestException:
        raise ExternalSystemError(system, "could not be reached") from None
    if response.status_code >= 500:
        raise ExternalSystemError(system, f"answered {response.status_code}")
    return response


def _json(system: str, response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise ExternalSystemError(system, "sent an unreadable answer") from None
    if not isinstance(body, dict):
        raise ExternalSystemError(system, "sent an unreadable answer")
    return body


class ServiceDirectoryClient:
    """DoS: which services can see the patient, and a service's ASID."""

    system = "service directory"

    def check_capacity_summary(self, postcode: str) -> list[dict]:
        response = _call(self.system, "POST", f"{current_app.config['DOS_URL']}/CheckCapacitySummary",
                         json={"postcode": postcode})
        if response.status_code != 200:
            raise ExternalSystemError(self.system, f"refused the search ({response.status_code})")
        return list(_json(self.system, response).get("services", []))

    def service_details(self, service_id: str) -> dict:
        response = _call(self.system, "GET", f"{current_app.config['DOS_URL']}/ServiceDetailsByID/{service_id}")
        if response.status_code == 404:
            raise NotFound(service_id)
        return _json(self.system, response)


class EndpointDirectoryClient:
    """SDS: ASID → party key → the provider's FHIR endpoint and token URL."""

    system = "endpoint directory"

    def endpoint_for(self, asid: str) -> dict:
        base = current_app.config["SDS_URL"]
        system = _call(self.system, "GET", f"{base}/accredited-system", params={"asid": asid})
        if system.status_code == 404:
            raise NotFound(asid)
        party_key = _json(self.system, system).get("partyKey")
        found = _call(self.system, "GET", f"{base}/endpoint", params={"partyKey": party_key})
        if found.status_code == 404:
            raise NotFound(party_key)
        return _json(self.system, found)


class DemographicsClient:
    """PDS: is this NHS number a registered person, and who."""

    system = "demographics service"

    def person(self, nhs_number: str) -> dict:
        response = _call(self.system, "GET", f"{current_app.config['PDS_URL']}/Patient/{nhs_number}")
        if response.status_code in (400, 404):
            raise NotFound(nhs_number)
        return _json(self.system, response)


INTERACTIONS = {  # the NHS Booking API's Spine interaction ids, sent as Ssp-InteractionID
    "search-slots": "urn:nhs:names:services:careconnect:fhir:rest:search:slot",
    "book": "urn:nhs:names:services:careconnect:fhir:rest:create:appointment",
    "read": "urn:nhs:names:services:careconnect:fhir:rest:read:appointment",
    "cancel": "urn:nhs:names:services:careconnect:fhir:rest:update:appointment",
}


# The NHS Booking API's answers that refuse this booking (invalid, duplicate/conflict, unprocessable): the
# secretary is told nothing was booked and why, not that the provider is down.
BOOKING_REFUSALS = (400, 409, 422)


class RemoteProviderClient:
    """A provider's FHIR STU3 booking API (the NHS Booking API), with a client-credentials token from its
    token URL. Every request carries the headers the specification asks a consumer for: a fresh
    X-Request-Id, and the Spine proxy's Ssp-TraceID, Ssp-From (our ASID), Ssp-To (the provider's) and
    Ssp-InteractionID. A 4xx answer is never retried (the pages' rule), but for one fresh token."""

    system = "booking provider"

    def __init__(self, endpoint: str, token_url: str, provider_asid: str = ""):
        self.endpoint = endpoint.rstrip("/")
        self.token_url = token_url
        self.provider_asid = provider_asid
        self._token = None

    def _cache_key(self) -> str:
        who = f"{self.token_url} {current_app.config['BOOKING_CLIENT_ID']}"
        return "remote-token:" + hashlib.sha256(who.encode()).hexdigest()

    def _cached_token(self) -> str | None:
        try:
            cached = redis_client().get(self._cache_key())
        except redis.RedisError:
            return None
        return cached.decode() if cached else None

    def _new_token(self) -> str:
        cfg = current_app.config
        response = _call(self.system, "POST", self.token_url, data={"grant_type": "client_credentials"},
                         auth=(cfg["BOOKING_CLIENT_ID"], cfg["BOOKING_CLIENT_SECRET"]))
        if response.status_code != 200:
            raise ExternalSystemError(self.system, f"refused our credentials ({response.status_code})")
        body = _json(self.system, response)
        token = body.get("access_token")
        if not isinstance(token, str):
            raise ExternalSystemError(self.system, "sent no access token")
        # Shared by every web process until a minute before it expires (tokens live an hour).
        lifetime = int(body.get("expires_in") or 0) - 60
        if lifetime > 0:
            try:
                redis_client().set(self._cache_key(), token, ex=lifetime)
            except redis.RedisError:
                log.warning("could not cache the access token of %s", self.token_url)
        return token

    def _headers(self, interaction: str) -> dict:
        if self._token is None:
            self._token = self._cached_token() or self._new_token()
        trace = str(uuid.uuid4())
        return {"Authorization": f"Bearer {self._token}", "Accept": FHIR_JSON, "X-Request-Id": trace,
                "Ssp-TraceID": trace, "Ssp-From": current_app.config["BOOKING_ASID"], "Ssp-To": self.provider_asid,
                "Ssp-InteractionID": INTERACTIONS[interaction]}

    def _authorised(self, interaction: str, method: str, url: str, **kwargs) -> requests.Response:
        """A call with our token; a refused token (401, or 403 as the NHS Booking API answers it: revoked, or
        the provider's key rotated) gets one fresh token, the one step that addresses that cause."""
        extra = kwargs.pop("headers", {})
        response = _call(self.system, method, url, headers={**self._headers(interaction), **extra}, **kwargs)
        if response.status_code in (401, 403):
            try:
                redis_client().delete(self._cache_key())
            except redis.RedisError:
                pass
            self._token = self._new_token()
            response = _call(self.system, method, url, headers={**self._headers(interaction), **extra}, **kwargs)
        return response

    def search_free_slots(self, healthcare_service_id: str, start: str, end: str) -> dict:
        # The NHS Booking API page's query: its parameter names and its six includes.
        params = [("schedule.actor:healthcareservice", healthcare_service_id), ("start", f"ge{start}"),
                  ("start", f"le{end}"), ("status", "free"), ("_include", "Slot:schedule"),
                  ("_include:iterate", "Schedule:actor:Practitioner"),
                  ("_include:iterate", "Schedule:actor:PractitionerRole"),
                  ("_include:iterate", "Schedule:actor:HealthcareService"),
                  ("_include:iterate", "HealthcareService:Organization"),
                  ("_include:iterate", "HealthcareService:Location"), ("_format", "json")]
        response = self._authorised("search-slots", "GET", f"{self.endpoint}/Slot", params=params)
        if response.status_code != 200:
            raise ExternalSystemError(self.system, f"refused the slot search ({response.status_code})")
        return _json(self.system, response)

    def book(self, appointment: dict) -> tuple[int, dict]:
        """(status, body): 201 and the Appointment, or the provider's refusal of this booking (400, 409, 422)
        and its OperationOutcome. Any other answer is this system failing, not a refusal."""
        response = self._authorised("book", "POST", f"{self.endpoint}/Appointment", json=appointment,
                                    headers={"Content-Type": FHIR_JSON})
        if response.status_code not in (201, *BOOKING_REFUSALS):
            raise ExternalSystemError(self.system, f"refused the booking ({response.status_code})")
        if response.status_code == 201:
            return 201, _json(self.system, response)
        try:  # a refusal stands even when its OperationOutcome cannot be read
            return response.status_code, _json(self.system, response)
        except ExternalSystemError:
            return response.status_code, {}

    def read(self, appointment_id: str) -> tuple[dict, str]:
        """The Appointment as the provider holds it, and its ETag (the version a cancel must name)."""
        response = self._authorised("read", "GET", f"{self.endpoint}/Appointment/{appointment_id}")
        if response.status_code == 404:
            raise NotFound(appointment_id)
        if response.status_code != 200:
            raise ExternalSystemError(self.system, f"refused to show the appointment ({response.status_code})")
        body = _json(self.system, response)
        version = str((body.get("meta") or {}).get("versionId", ""))
        return body, response.headers.get("ETag") or f'W/"{version}"'

    def update(self, appointment: dict, etag: str) -> tuple[int, dict]:
        """PUT the Appointment back with If-Match: (status, body), 200 and the new version or a 4xx outcome."""
        response = self._authorised("cancel", "PUT", f"{self.endpoint}/Appointment/{appointment['id']}",
                                    json=appointment, headers={"Content-Type": FHIR_JSON, "If-Match": etag})
        if response.status_code >= 400 and response.status_code not in (409, 412, 422):
            raise ExternalSystemError(self.system, f"refused the change ({response.status_code})")
        return response.status_code, _json(self.system, response)
