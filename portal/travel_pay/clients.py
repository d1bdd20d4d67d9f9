"""Adapters to the token service (OAuth2 client credentials → JWT) and the claims API, in two shapes.

Every call has a timeout. The claims API is called through urllib3 (one keep-alive pool per process and
API) rather than requests, whose session layer (hooks, cookies, redirects, environment merging) doubled
the CPU of a call (0.75 → 0.37 ms); the token service still goes through authlib's requests session, once
per token's life. `ClaimsApiClient` is the seed's single POST: the claims API is told an
Idempotency-Key per claim, so a second POST of the same claim (a re-run after a crash) is answered with
the first filing. `BtsssClient` makes the calls of the VA's own step sequence (vets-api's travel-pay
client: system access token, find-or-add appointment, create claim, add mileage expense, submit), each
answer's failure mapped to the VA's codes (CLM_…); `portal/travel_pay/steps.py` runs the sequence.
"""

import os
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
import requests
import urllib3
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError


class ClaimsApiUnavailable(Exception):
    """A system error (5xx, timeout, connection error, no token): worth trying again later."""


class TokenRejected(ClaimsApiUnavailable):
    """The claims API refused our token (401): drop the cached one and try again later."""


class ClaimOutcomeUnknown(ClaimsApiUnavailable):
    """The call timed out: the claims system may have done it. Ask its status before filing again."""


class ClaimRejected(Exception):
    """A validation error: the claims API will never take this claim as it is. Not retried.

    `code` is ours (VALIDATION_CODES); `detail` says where, without patient data (e.g. the failed step
    and the VA's code)."""

    def __init__(self, code: str, detail: str | None = None):
        super().__init__(code)
        self.code, self.detail = code, detail


class ClaimAlreadyExists(ClaimRejected):
    """The claims system already has a claim for this appointment (not one of ours it could replay)."""

    def __init__(self, detail: str | None = None):
        super().__init__("claim_exists", detail)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class FiledClaim:
    claim_number: str
    status: str
    replayed: bool = False


class TokenServiceClient:
    def __init__(self, token_url: str, client_id: str, client_secret: str, timeout: float = 5):
        self.token_url, self.client_id, self.client_secret, self.timeout = token_url, client_id, client_secret, timeout

    def fetch_token(self) -> IssuedToken:
        session = OAuth2Session(self.client_id, self.client_secret, token_endpoint_auth_method="client_secret_basic")
        try:
            token = session.fetch_token(self.token_url, grant_type="client_credentials", timeout=self.timeout)
            return IssuedToken(str(token["access_token"]), int(token.get("expires_in") or 300))
        except (requests.RequestException, OAuthError, ValueError, KeyError, TypeError) as exc:
            raise ClaimsApiUnavailable(f"token service failed ({type(exc).__name__})") from None
        finally:
            session.close()


_pools: dict[tuple[int, str], urllib3.PoolManager] = {}


def _pool(url: str) -> urllib3.PoolManager:
    """One keep-alive pool per process and API (a forked job process gets its own).

    The environment's proxy and CA-bundle settings (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, …) are read
    once, when the pool is made, the way requests reads them: a worker's environment does not change while
    it runs. ~/.netrc is never consulted (it would replace our Bearer token).
    """
    key = (os.getpid(), url)
    if key not in _pools:
        proxies = requests.utils.get_environ_proxies(url)  # empty when NO_PROXY covers the host
        proxy = proxies.get(url.split(":", 1)[0]) or proxies.get("all")
        ca_certs = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                    or requests.utils.DEFAULT_CA_BUNDLE_PATH)
        _pools[key] = (urllib3.ProxyManager(proxy, ca_certs=ca_certs) if proxy
                       else urllib3.PoolManager(ca_certs=ca_certs))
    return _pools[key]


class _Timeout(Exception):
    """The call was sent (or its connection was being made) and no answer came in time."""


class _Unreachable(Exception):
    """No answer: the connection could not be made or broke."""


def _http(pool_url: str, method: str, url: str, timeout: float, headers: dict, body=None,
          params: dict | None = None) -> urllib3.BaseHTTPResponse:
    """One call, as requests made it: `body` sent as JSON, `params` as the query (lists repeated), connect
    and read each within `timeout`, no retries. Redirects are not followed: the claims API answers where it
    is asked, and a redirect would carry the Bearer token elsewhere. Raises _Timeout or _Unreachable."""
    if params:
        url = f"{url}?{urlencode(params, doseq=True)}"
    if body is not None:
        headers = {**headers, "Content-Type": "application/json"}
        body = orjson.dumps(body)
    try:
        return _pool(pool_url).request(method.upper(), url, body=body, headers=headers, retries=False,
                                       redirect=False, timeout=urllib3.Timeout(connect=timeout, read=timeout))
    except MaxRetryError as exc:
        raise _mapped(exc.reason) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _mapped(exc) from None


def _mapped(exc) -> Exception:
    # urllib3's NewConnectionError (refused, no route, unknown host) is a ConnectTimeoutError by descent;
    # requests, like this, calls only a real connect or read timeout a timeout.
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)) and not isinstance(exc, NewConnectionError):
        return _Timeout(type(exc).__name__)
    return _Unreachable(type(exc).__name__)


def _json(response: urllib3.BaseHTTPResponse):
    """The answer's JSON (ValueError when it is none)."""
    return orjson.loads(response.data)


# The most claim numbers one status request asks about (the claims API's limit).
STATUS_BATCH = 100

# The claims API's error codes that mean "this claim is wrong", as opposed to "try later".
VALIDATION_CODES = {"unknown_patient", "no_appointment", "claim_exists", "invalid_claim"}


class ClaimsApiClient:
    """The single-POST claims API: file with an Idempotency-Key, find a filing by that key, ask the statuses
    of many claims at once."""

    def __init__(self, claims_url: str, timeout: float = 5):
        self.claims_url, self.timeout = claims_url, timeout

    def submit(self, token: str, idempotency_key: str, claim: dict) -> FiledClaim:
        try:
            response = _http(self.claims_url, "post", self.claims_url, self.timeout, body=claim,
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key})
        except _Timeout:
            raise ClaimOutcomeUnknown("claims API timed out") from None
        except _Unreachable as exc:
            raise ClaimsApiUnavailable(f"claims API unreachable ({exc})") from None
        if response.status == 401:
            raise TokenRejected("claims API refused the token (401)")
        if response.status in (200, 201):
            return _filed(response)
        if response.status in (400, 404, 409, 422):
            code = _error_code(response)
            raise ClaimAlreadyExists() if code == "claim_exists" else ClaimRejected(code)
        raise ClaimsApiUnavailable(f"claims API answered {response.status}")

    def find(self, token: str, idempotency_key: str) -> FiledClaim | None:
        """The filing made under this key, if the claims API has one (the status check after a timeout)."""
        body = self._get(token, self.claims_url, {"idempotencyKey": idempotency_key})
        found = body.get("claims") if isinstance(body, dict) else None
        if not found:
            return None
        try:
            return FiledClaim(str(found[0]["claimNumber"]), str(found[0].get("status") or "ClaimSubmitted"),
                              replayed=True)
        except (KeyError, TypeError, IndexError):
            raise ClaimsApiUnavailable("claims API answered a lookup without a claim number") from None

    def statuses(self, token: str, claim_numbers: list[str]) -> dict[str, str]:
        """The status of each claim, asked in one call (`?claimNumber=…&claimNumber=…`, at most
        STATUS_BATCH); a claim the API does not know is left out of the answer."""
        body = self._get(token, self.claims_url, {"claimNumber": list(claim_numbers)})
        found = body.get("claims") if isinstance(body, dict) else None
        if not isinstance(found, list):
            raise ClaimsApiUnavailable("claims API answered a status request without claims")
        return {entry["claimNumber"]: entry["status"] for entry in found if isinstance(entry, dict)
                and isinstance(entry.get("claimNumber"), str) and isinstance(entry.get("status"), str)
                and entry["status"]}

    def _get(self, token: str, url: str, params: dict | None):
        try:
            response = _http(self.claims_url, "get", url, self.timeout, params=params,
                             headers={"Authorization": f"Bearer {token}"})
        except (_Timeout, _Unreachable) as exc:
            raise ClaimsApiUnavailable(f"claims API unreachable ({exc})") from None
        if response.status == 401:
            raise TokenRejected("claims API refused the token (401)")
        if response.status != 200:
            raise ClaimsApiUnavailable(f"claims API answered {response.status}")
        try:
            return _json(response)
        except ValueError:
            raise ClaimsApiUnavailable("claims API answered without JSON") from None


# --- the VA's step sequence (BTSSS as vets-api's travel-pay client calls it) -------------------------

# The VA's codes for what went wrong (vets-api TravelClaim::Response), and what each means here.
CLM_MULTIPLE_APPTS = "CLM_001_MULTIPLE_APPTS"
CLM_CLAIM_EXISTS = "CLM_002_CLAIM_EXISTS"
CLM_APPOINTMENT_NOT_FOUND = "CLM_003_APPOINTMENT_NOT_FOUND"
CLM_SUBMISSION_ERROR = "CLM_010_CLAIM_SUBMISSION_ERROR"
CLM_TIMEOUT = "CLM_011_CLAIM_TIMEOUT_ERROR"
CLM_INVALID_AUTH = "CLM_020_INVALID_AUTH"
CLM_UNKNOWN_ERROR = "CLM_030_UNKNOWN_SERVER_ERROR"


def step_code(status: int, message: str) -> str:
    """The VA's code for a step's failed answer, from its status and BTSSS's message (as vets-api maps them)."""
    text = message.lower()
    if status == 401 or "unauthorized" in text:
        return CLM_INVALID_AUTH
    if status >= 500:
        return CLM_UNKNOWN_ERROR
    if "multiple appointments" in text:
        return CLM_MULTIPLE_APPTS
    if "already has a claim" in text:
        return CLM_CLAIM_EXISTS
    if "appointment not found" in text:
        return CLM_APPOINTMENT_NOT_FOUND
    if "timeout" in text:
        return CLM_TIMEOUT
    return CLM_SUBMISSION_ERROR


class StepFailed(Exception):
    """One step's failure: the step's name and the VA's code (never patient data)."""

    def __init__(self, step: str, code: str, status: int | None = None):
        super().__init__(f"step {step}: {code}" + (f" (HTTP {status})" if status else ""))
        self.step, self.code, self.status = step, code, status


class BtsssClient:
    """One method per step of the VA's sequence; each raises StepFailed with the VA's code.

    Every request carries the filing's correlation id (X-Correlation-ID) and, after the first step,
    the client-credentials token (Authorization) and the patient's system access token (BTSSS-Access-Token).
    """

    def __init__(self, base_url: str, client_number: str, client_secret: str, timeout: float = 5):
        self.base_url, self.client_number, self.client_secret = base_url.rstrip("/") + "/", client_number, client_secret
        self.timeout = timeout

    def system_access_token(self, token: str, patient_ref: str, correlation_id: str) -> str:
        body = self._call("system_access_token", "post", "api/v4/auth/system-access-token",
                          {"secret": self.client_secret, "icn": patient_ref},
                          {"Authorization": f"Bearer {token}", "X-Correlation-ID": correlation_id,
                           "BTSSS-API-Client-Number": self.client_number})
        return str(_dig(body, "system_access_token", "data", "accessToken"))

    def find_or_add_appointment(self, auth: dict, when: str, facility: str) -> str:
        body = self._call("find_or_add_appointment", "post", "api/v3/appointments/find-or-add",
                          {"appointmentDateTime": when, "facilityStationNumber": facility}, auth)
        return str(_dig(body, "find_or_add_appointment", "data", 0, "id"))

    def create_claim(self, auth: dict, appointment_id: str) -> str:
        body = self._call("create_claim", "post", "api/v3/claims",
                          {"appointmentId": appointment_id, "claimName": "Travel Reimbursement",
                           "claimantType": "Veteran"}, auth)
        return str(_dig(body, "create_claim", "data", "claimId"))

    def add_mileage_expense(self, auth: dict, claim_id: str, date_incurred: str) -> None:
        self._call("add_mileage_expense", "post", "api/v3/expenses/mileage",
                   {"claimId": claim_id, "dateIncurred": date_incurred, "description": "mileage",
                    "tripType": "RoundTrip"}, auth)

    def submit_claim(self, auth: dict, claim_id: str) -> dict:
        return _dig(self._call("submit_claim", "patch", f"api/v3/claims/{claim_id}/submit", None, auth),
                    "submit_claim", "data")

    def get_claim(self, auth: dict, claim_id: str) -> dict:
        return _dig(self._call("get_claim", "get", f"api/v3/claims/{claim_id}", None, auth), "get_claim", "data")

    def claims_by_appointment_date(self, auth: dict, start: str, end: str) -> list[dict]:
        body = self._call("search_claims", "get", "api/v3/claims/search-by-appointment-date", None, auth,
                          params={"startDate": start, "endDate": end})
        found = _dig(body, "search_claims", "data")
        return found if isinstance(found, list) else []

    def _call(self, step: str, method: str, path: str, body: dict | None, headers: dict, params=None):
        url = self.base_url + path
        try:
            response = _http(self.base_url, method, url, self.timeout, headers=headers, body=body, params=params)
        except _Timeout:
            raise StepFailed(step, CLM_TIMEOUT) from None
        except _Unreachable:
            raise StepFailed(step, CLM_UNKNOWN_ERROR) from None
        if response.status != 200:
            try:
                message = str((_json(response) or {}).get("message") or "")
            except (ValueError, AttributeError):
                message = ""
            raise StepFailed(step, step_code(response.status, message), response.status)
        try:
            return _json(response)
        except ValueError:
            raise StepFailed(step, CLM_UNKNOWN_ERROR, response.status) from None


def _dig(body, step: str, *path):
    try:
        for part in path:
            body = body[part]
    except (KeyError, IndexError, TypeError):
        raise StepFailed(step, CLM_UNKNOWN_ERROR) from None
    if body is None:
        raise StepFailed(step, CLM_UNKNOWN_ERROR)
    return body


def _filed(response) -> FiledClaim:
    try:
        body = _json(response)
        return FiledClaim(str(body["claimNumber"]), str(body.get("status", "submitted")),
                          replayed=response.headers.get("Idempotent-Replayed") == "true")
    except (ValueError, KeyError, TypeError):
        raise ClaimsApiUnavailable("claims API answered without a claim number") from None


def _error_code(response) -> str:
    try:
        code = str(_json(response).get("code", ""))
    except (ValueError, AttributeError):
        code = ""
    return code if code in VALIDATION_CODES else "invalid_claim"
