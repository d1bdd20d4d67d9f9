"""Schemathesis against the app, in process: the hooks that sign webhook requests and fetch a bearer
token, the data the generated requests meet, and a tally of answers per operation.

`tests/api_docs/test_fuzz.py` runs it in `make test` (FUZZ_EXAMPLES, default 100 per operation and
mode; 25 on CI's PostgreSQL pass, as tests/conftest.py's GENERATED_BUDGET); `bench/fuzz.py` runs it with
1,000 and prints the tally.
"""

import json
import os
import time
from collections import Counter, defaultdict

import schemathesis
from hypothesis import HealthCheck, settings

from portal.fhir.search import PATIENT_PARAMS
from portal.referrals.intake import sign
from tests.conftest import GENERATED_BUDGET

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or GENERATED_BUDGET)
# FUZZ_RANDOM=1 (`bench/fuzz.py --random`): other requests every run, to find what the fixed ones never send;
# a failure prints the blob that replays it (@reproduce_failure). CI stays deterministic.
FUZZ_RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
# Every answer of every generated request, by operation ("POST /api/referrals") and status code.
TALLY: dict[str, Counter] = defaultdict(Counter)

# What the hooks need, set by the `fuzz_world` fixture: the app under test and its credentials.
CREDENTIALS: dict = {}


def load_schema():
    """The document as the app builds it; `schema.app` is set to the app under test before calls."""
    from portal.api_docs.openapi import openapi_document

    schema = schemathesis.openapi.from_dict(openapi_document())
    schema.config.generation.update(modes=["positive", "negative"], max_examples=FUZZ_EXAMPLES,
                                    deterministic=not FUZZ_RANDOM, database="none")
    schema.auth()(PortalCredentials)
    return schema


def fuzz_settings(examples: int = FUZZ_EXAMPLES) -> settings:
    """Deterministic unless FUZZ_RANDOM: the same requests every run (derandomize, no example database), so a
    failure in CI reproduces on a laptop; no deadline, because a shared CI machine is slow at times."""
    return settings(max_examples=examples, derandomize=not FUZZ_RANDOM, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


def operation_label(case) -> str:
    return f"{case.operation.method.upper()} {case.operation.path}"


@schemathesis.hook
def before_call(context, case, kwargs):
    """Fill in the bearer token and the doctor's session; sign webhook requests as the referral
    system does: the exact bytes sent, a fresh timestamp.

    Only a request that carries both headers is signed. One that lacks either (Schemathesis leaves
    them out on purpose to see it refused) or whose timestamp was generated wrong (not ASCII digits)
    goes as generated: then the signature check itself is fuzzed, and it must answer 401.
    """
    _fill_in_credentials(case)
    _meet_real_records(case)
    if case.operation.path != "/api/referrals":
        return
    body = case.body
    if isinstance(body, bytes):
        raw = body
    elif isinstance(body, (dict, list, str, int, float, bool)) or body is None:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    else:  # no body at all (a negative case)
        raw = b""
    kwargs["data"] = raw
    headers = dict(case.headers or {})
    stamp = headers.get("X-Referral-Timestamp")
    if "X-Referral-Signature" in headers and isinstance(stamp, str) and stamp.isascii() and stamp.isdigit():
        stamp = str(int(time.time()))
        headers["X-Referral-Timestamp"] = stamp
        headers["X-Referral-Signature"] = sign(CREDENTIALS["webhook_secret"], stamp, raw)
        case.headers = headers


def _meet_real_records(case) -> None:
    """Half of the generated ids (the even ones) become ids of real records, so reads and the
    cancel reach their 200 paths and not only 404; the odd ones stay as generated."""
    known = CREDENTIALS.get("ids", {})
    params = case.path_parameters or {}
    if isinstance(params.get("id"), int) and params["id"] % 2 == 0 and case.operation.path in known:
        case.path_parameters = {**params, "id": known[case.operation.path]}
    query = case.query or {}
    service = query.get("schedule.actor:HealthcareService")
    if isinstance(service, str) and service[-1:] in "02468" and service[-1:] and "service" in known:
        case.query = {**query, "schedule.actor:HealthcareService": str(known["service"])}
    if case.operation.path == "/fhir/stu3/Appointment" and case.method.upper() == "GET" and "patient" in known:
        # A patient search needs the identifier of a patient the client booked for: half of the generated
        # searches (by the parity of what was generated) ask for the fuzzer's own patient by NHS number.
        if isinstance(query, dict) and len(repr(sorted(query.items(), key=repr))) % 2 == 0:
            case.query = {**{k: v for k, v in query.items() if k not in PATIENT_PARAMS},
                          "patient.identifier": known["patient"]}


@schemathesis.hook
def after_call(context, case, response):
    TALLY[operation_label(case)][response.status_code] += 1


PENDING = "credentials-filled-in-before-the-call"


class PortalCredentials:
    """Schemathesis' auth provider: it marks the requests that carry credentials (not those where
    Schemathesis leaves them out on purpose), and `before_call` fills them in. Explicit examples are
    built when the module is collected, before the app and its API client exist, so a real token
    cannot be put on a case here."""

    def get(self, case, context):
        return PENDING

    def set(self, case, data, context):
        if case.operation.path.startswith("/fhir/") and case.operation.path != "/fhir/stu3/metadata":
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {PENDING}"}
        elif case.operation.path == "/api/consultations/{id}":
            case.cookies = {**(case.cookies or {}), "session": PENDING}


def bearer_token() -> str:
    """The fuzzing API client's access token, fetched from POST /oauth/token like a real client does."""
    if "token" not in CREDENTIALS:
        answer = CREDENTIALS["app"].test_client().post(
            "/oauth/token", data={"grant_type": "client_credentials"},
            auth=(CREDENTIALS["client_id"], CREDENTIALS["client_secret"]))
        assert answer.status_code == 200, answer.get_data(as_text=True)
        CREDENTIALS["token"] = answer.json["access_token"]
    return CREDENTIALS["token"]


def _fill_in_credentials(case) -> None:
    if (case.headers or {}).get("Authorization") == f"Bearer {PENDING}":
        case.headers = {**case.headers, "Authorization": f"Bearer {bearer_token()}"}
    if (case.cookies or {}).get("session") == PENDING:
        case.cookies = {**case.cookies, "session": CREDENTIALS["session"]}


def histogram_lines(tally: dict[str, Counter]) -> list[str]:
    lines = []
    for label in sorted(tally):
        counts = tally[label]
        shown = "  ".join(f"{status}×{count}" for status, count in sorted(counts.items()))
        lines.append(f"{label:45} {sum(counts.values()):6}  {shown}")
    return lines
