"""Adapters to the token service (OAuth2 client credentials → JWT) and the claims API.

Every call has a timeout. The claims API is told an Idempotency-Key per claim, so a second
POST of the same claim (a re-run after a crash) is answered with the first filing.
"""

import os
from dataclasses import dataclass

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session


class ClaimsApiUnavailable(Exception):
    """A system error (5xx, timeout, connection error, no token): worth trying again later."""


class TokenRejected(ClaimsApiUnavailable):
    """The claims API refused our token (401): drop the cached one and try again later."""


class ClaimRejected(Exception):
    """A validation error: the claims API will never take this claim as it is. Not retried."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


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


_sessions: dict[tuple[int, str], requests.Session] = {}


def _http(url: str) -> requests.Session:
    """One keep-alive session per process and claims API (a forked job process gets its own).

    The environment's proxy and CA-bundle settings (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, …) are
    read once, when the session is made: with `trust_env` requests re-reads them, and ~/.netrc, on every
    call (~160 environment lookups per claim), and a worker's environment does not change while it runs.
    `trust_env` off also keeps a ~/.netrc entry from replacing our Bearer token.
    """
    key = (os.getpid(), url)
    if key not in _sessions:
        session = requests.Session()
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(url)  # empty when NO_PROXY covers the host
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        _sessions[key] = session
    return _sessions[key]


# The claims API's error codes that mean "this claim is wrong", as opposed to "try later".
VALIDATION_CODES = {"unknown_patient", "no_appointment", "claim_exists", "invalid_claim"}


class ClaimsApiClient:
    def __init__(self, claims_url: str, timeout: float = 5):
        self.claims_url, self.timeout = claims_url, timeout

    def submit(self, token: str, idempotency_key: str, claim: dict) -> FiledClaim:
        try:
            response = _http(self.claims_url).post(self.claims_url, json=claim, timeout=self.timeout,
                                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key})
        except requests.RequestException as exc:
            raise ClaimsApiUnavailable(f"claims API unreachable ({type(exc).__name__})") from None
        if response.status_code == 401:
            raise TokenRejected("claims API refused the token (401)")
        if response.status_code in (200, 201):
            return _filed(response)
        if response.status_code in (400, 404, 409, 422):
            raise ClaimRejected(_error_code(response))
        raise ClaimsApiUnavailable(f"claims API answered {response.status_code}")


def _filed(response) -> FiledClaim:
    try:
        body = response.json()
        return FiledClaim(str(body["claimNumber"]), str(body.get("status", "submitted")),
                          replayed=response.headers.get("Idempotent-Replayed") == "true")
    except (ValueError, KeyError, TypeError):
        raise ClaimsApiUnavailable("claims API answered without a claim number") from None


def _error_code(response) -> str:
    try:
        code = str(response.json().get("code", ""))
    except (ValueError, AttributeError):
        code = ""
    return code if code in VALIDATION_CODES else "invalid_claim"
