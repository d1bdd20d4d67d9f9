"""Stand-ins for the token service (OAuth2 client credentials → JWT) and the claims API, in two shapes.

The single-POST API (`/travel/claims`, the seed's sequence) honours Idempotency-Key: the same key again
is answered with the first filing (a replay) and never filed twice; `GET /travel/claims?idempotencyKey=`
finds a filing (the status check after a timeout), `GET /travel/claims?claimNumber=…&claimNumber=…` gives the
statuses of up to 100 claims in one answer (what the follower asks), and `GET /travel/claims/<claim number>` one.

The step API (`/travel/btsss/api/...`) plays the VA's own sequence as vets-api's travel-pay client calls it:
a per-patient system access token, find-or-add the appointment, create the claim, add the mileage
expense, submit; a claim's status by id, and the patient's claims by appointment date. Its errors are
BTSSS-like `{"message": …}` answers ("… already has a claim associated with it.").

A filed claim's status moves on with time: ClaimSubmitted, then InProcess, then the decision (by default
ApprovedForPayment) once `decide_after_seconds` have passed. Counters at /travel/counters let tests and the
bench assert that nothing was filed twice: filings (claims filed or submitted), replays, duplicates (a
second claim for a patient and appointment), claims created, status checks. Behaviour is switchable on the
sandbox index page or by POST /travel/mode: succeed; fail N times (503) at every call or at one `step`;
validation error for a chosen patient; slow (work done, answer late) at every call or one `step`; exists
(the claims system already has a claim for every new appointment).
"""

import hmac
import secrets
import threading
import time
import uuid

import jwt
from flask import Blueprint, current_app, jsonify, redirect, render_template_string, request

bp = Blueprint("travel_sandbox", __name__, url_prefix="/travel")

MODES = ("succeed", "fail", "validation", "slow", "exists")
STEPS = ("", "file", "system_access_token", "find_or_add_appointment", "create_claim", "add_mileage_expense",
         "submit_claim", "status")
DECISIONS = ("ApprovedForPayment", "Denied", "OnHold", "PartialPayment", "ClosedWithNoPayment")
TOKEN_TTL = 3600
STATUS_BATCH = 100  # claim numbers per status request
SYSTEM_TOKEN_TTL = 1800

PORTAL_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Travel claims portal</title></head>
<body><main><h1>Travel claims portal (sandbox)</h1>
<p>In production this is where patients file and follow up travel claims.</p>
<h2>Filed claims ({{ filings|length }})</h2><ol>{% for f in filings %}
<li>{{ f.claimNumber }} — patient {{ f.patientId }},
appointment {{ f.appointmentDateTime }}, {{ f.status }}</li>{% endfor %}</ol>
<p><a href="/">Sandbox</a></p></main></body></html>"""


class TravelState:
    """What the claims API has filed, in memory (the sandbox is one process)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.by_key: dict[str, dict] = {}          # single POST: Idempotency-Key → the filing
        self.by_claim: dict[tuple[str, str], str] = {}  # (patient, day) → what holds it ("key:…" or "claim:…")
        self.by_number: dict[str, dict] = {}       # claim number → the filing or step claim
        self.appointments: dict[tuple[str, str], str] = {}  # (patient, date-time) → appointment id
        self.step_claims: dict[str, dict] = {}     # claim id → the step API's claim
        self.counters = {"filings": 0, "replays": 0, "duplicates": 0, "tokens_issued": 0, "requests": 0,
                         "failures_served": 0, "rejections": 0, "system_tokens_issued": 0, "appointments_added": 0,
                         "claims_created": 0, "expenses_added": 0, "status_checks": 0, "status_requests": 0,
                         "lookups": 0}
        self.verified_tokens: dict[str, float] = {}  # bearer token → when it expires
        self.steps_seen: list[str] = []
        self.correlation_ids: list[str] = []  # X-Correlation-ID of each call, in order
        self.mode = {"mode": "succeed", "failures_left": 0, "patient_id": "", "slow_seconds": 3.0, "step": "",
                     "decide_after_seconds": 20.0, "decision": "ApprovedForPayment"}

    def set_mode(self, mode: str, failures: int = 0, patient_id: str = "", slow_seconds: float = 3.0,
                 step: str = "", decide_after_seconds: float | None = None, decision: str | None = None):
        with self.lock:
            self.mode = {"mode": mode, "failures_left": max(int(failures), 0), "patient_id": str(patient_id or ""),
                         "slow_seconds": max(min(float(slow_seconds), 60.0), 0.0), "step": step,
                         "decide_after_seconds": self.mode["decide_after_seconds"] if decide_after_seconds is None
                         else max(float(decide_after_seconds), 0.0),
                         "decision": decision or self.mode["decision"]}

    def next_number(self) -> str:
        self.counters["filings"] += 1
        return f"TC-{self.counters['filings']:07d}"

    def status_of(self, filed_at: float | None) -> str:
        """Where a claim filed at `filed_at` (None: not submitted yet) has got to now."""
        if filed_at is None:
            return "Saved"
        elapsed, decide = time.time() - filed_at, self.mode["decide_after_seconds"]
        if elapsed >= decide:
            return self.mode["decision"]
        return "ClaimSubmitted" if elapsed < decide / 2 else "InProcess"


def _state() -> TravelState:
    return current_app.extensions["travel_state"]


def _signing_key() -> str:
    return current_app.config["TRAVEL_CLIENT_SECRET"] + ":sandbox-token-service"


def _misbehave(state: TravelState, step: str):
    """Under the state's lock: a 503 answer while the fail mode has failures left for this step, else None."""
    state.counters["requests"] += 1
    state.steps_seen.append(step)
    state.correlation_ids.append(request.headers.get("X-Correlation-ID", ""))
    mode = state.mode
    if mode["mode"] == "fail" and mode["failures_left"] > 0 and mode["step"] in ("", step):
        mode["failures_left"] -= 1
        state.counters["failures_served"] += 1
        return _problem(503, "unavailable", "claims system unavailable (sandbox failure mode)")
    return None


def _slow_seconds(state: TravelState, step: str) -> float:
    mode = state.mode
    return mode["slow_seconds"] if mode["mode"] == "slow" and mode["step"] in ("", step) else 0.0


@bp.post("/token")
def token():
    auth = request.authorization
    client_id = auth.username if auth else request.form.get("client_id")
    client_secret = auth.password if auth else request.form.get("client_secret")
    if request.form.get("grant_type") != "client_credentials":
        return {"error": "unsupported_grant_type"}, 400
    if client_id != current_app.config["TRAVEL_CLIENT_ID"] or not hmac.compare_digest(
            str(client_secret or ""), current_app.config["TRAVEL_CLIENT_SECRET"]):
        return {"error": "invalid_client"}, 401
    now = int(time.time())
    access = jwt.encode({"sub": client_id, "iat": now, "exp": now + TOKEN_TTL, "jti": secrets.token_hex(8)},
                        _signing_key(), algorithm="HS256")
    with _state().lock:
        _state().counters["tokens_issued"] += 1
    return {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_TTL}


def _bearer_ok() -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    # A token verified once is known until it expires: bench/claims.py sends ~20k requests with one token,
    # and verifying each took the sandbox more CPU than the rest of its view (it shares the bench's CPUs).
    verified = _state().verified_tokens
    if verified.get(header[7:], 0) > time.time():
        return True
    try:
        claims = jwt.decode(header[7:], _signing_key(), algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return False
    verified[header[7:]] = claims["exp"]
    return True


def _problem(status: int, code: str, detail: str):
    return jsonify({"code": code, "detail": detail}), status


# --- the single-POST claims API ------------------------------------------------------------------

@bp.post("/claims")
def claims():
    if not _bearer_ok():
        return _problem(401, "invalid_token", "a valid bearer token is required")
    key = request.headers.get("Idempotency-Key", "")
    if not key or len(key) > 100:
        return _problem(400, "invalid_claim", "Idempotency-Key is required")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("patientId") or not body.get("appointmentDateTime"):
        return _problem(422, "invalid_claim", "patientId and appointmentDateTime are required")
    state = _state()
    with state.lock:
        if key in state.by_key:
            state.counters["requests"] += 1
            state.counters["replays"] += 1
            return jsonify(_with_status(state, state.by_key[key])), 200, {"Idempotent-Replayed": "true"}
        failure = _misbehave(state, "file")
        if failure:
            return failure
        mode = state.mode
        if mode["mode"] == "validation" and str(body["patientId"]) == mode["patient_id"]:
            state.counters["rejections"] += 1
            return _problem(422, "unknown_patient", "no such patient")
        claim = (str(body["patientId"]), str(body["appointmentDateTime"])[:10])
        if claim in state.by_claim or mode["mode"] == "exists":
            state.counters["duplicates" if claim in state.by_claim else "rejections"] += 1
            return _problem(409, "claim_exists", "a claim for this patient and day already exists")
        filed = {"claimNumber": state.next_number(), "filedAt": time.time(), **body}
        state.by_key[key] = filed
        state.by_claim[claim] = f"key:{key}"
        state.by_number[filed["claimNumber"]] = filed
        answer = _with_status(state, filed)
        slow = _slow_seconds(state, "file")
    if slow:
        time.sleep(slow)  # filed first, answered late: a worker killed now must replay, not refile
    return jsonify(answer), 201


def _with_status(state: TravelState, filed: dict) -> dict:
    return {**{k: v for k, v in filed.items() if k != "filedAt"}, "status": state.status_of(filed.get("filedAt"))}


@bp.get("/claims")
def find_claims():
    """The status check after a timeout: the filing made under an Idempotency-Key, if any. With
    `claimNumber` (repeated, at most STATUS_BATCH): the status of each of those claims it knows."""
    if not _bearer_ok():
        return _problem(401, "invalid_token", "a valid bearer token is required")
    numbers = request.args.getlist("claimNumber")
    if numbers:
        return _statuses(numbers)
    key = request.args.get("idempotencyKey", "")
    state = _state()
    with state.lock:
        failure = _misbehave(state, "status")
        if failure:
            return failure
        state.counters["lookups"] += 1
        found = state.by_key.get(key)
        return {"claims": [_with_status(state, found)] if found else []}


def _statuses(numbers: list[str]):
    if len(numbers) > STATUS_BATCH:
        return _problem(400, "invalid_claim", f"at most {STATUS_BATCH} claim numbers")
    state = _state()
    with state.lock:
        failure = _misbehave(state, "status")
        if failure:
            return failure
        state.counters["status_checks"] += len(numbers)
        state.counters["status_requests"] += 1
        return {"claims": [{"claimNumber": number, "status": state.status_of(filed.get("filedAt"))}
                           for number in numbers if (filed := state.by_number.get(number)) is not None]}


@bp.get("/claims/<number>")
def claim_status(number: str):
    if not _bearer_ok():
        return _problem(401, "invalid_token", "a valid bearer token is required")
    state = _state()
    with state.lock:
        failure = _misbehave(state, "status")
        if failure:
            return failure
        state.counters["status_checks"] += 1
        found = state.by_number.get(number)
        if found is None:
            return _problem(404, "not_found", "no such claim")
        return {"claimNumber": number, "status": state.status_of(found.get("filedAt"))}


# --- the step API, as the VA's travel-pay client calls BTSSS --------------------------------------

def _btsss_error(status: int, message: str):
    return jsonify({"message": f"{time.strftime('%m/%d/%Y')} : {message}"}), status


def _patient() -> str | None:
    """The patient of the BTSSS-Access-Token (with a valid bearer token), or None."""
    if not _bearer_ok():
        return None
    try:
        claims = jwt.decode(request.headers.get("BTSSS-Access-Token", ""), _signing_key() + ":btsss",
                            algorithms=["HS256"], options={"require": ["exp", "icn"]})
    except jwt.PyJWTError:
        return None
    return str(claims["icn"])


@bp.post("/btsss/api/v4/auth/system-access-token")
def system_access_token():
    if not _bearer_ok():
        return _btsss_error(401, "Unauthorized")
    body = request.get_json(silent=True) or {}
    if not hmac.compare_digest(str(body.get("secret") or ""), current_app.config["TRAVEL_CLIENT_SECRET"]) \
            or not request.headers.get("BTSSS-API-Client-Number"):
        return _btsss_error(401, "Unauthorized: unknown client")
    state = _state()
    with state.lock:
        failure = _misbehave(state, "system_access_token")
        if failure:
            return failure
        mode = state.mode
        if mode["mode"] == "validation" and str(body.get("icn")) == mode["patient_id"]:
            state.counters["rejections"] += 1
            return _btsss_error(400, "Veteran not found")
        state.counters["system_tokens_issued"] += 1
    now = int(time.time())
    access = jwt.encode({"icn": str(body.get("icn") or ""), "iat": now, "exp": now + SYSTEM_TOKEN_TTL},
                        _signing_key() + ":btsss", algorithm="HS256")
    return {"data": {"accessToken": access}}


@bp.post("/btsss/api/v3/appointments/find-or-add")
def find_or_add_appointment():
    patient = _patient()
    if patient is None:
        return _btsss_error(401, "Unauthorized")
    body = request.get_json(silent=True) or {}
    when = str(body.get("appointmentDateTime") or "")
    if not when or not body.get("facilityStationNumber"):
        return _btsss_error(400, "appointmentDateTime and facilityStationNumber are required")
    state = _state()
    with state.lock:
        failure = _misbehave(state, "find_or_add_appointment")
        if failure:
            return failure
        key = (patient, when)
        if key not in state.appointments:
            state.appointments[key] = str(uuid.uuid4())
            state.counters["appointments_added"] += 1
        appointment_id = state.appointments[key]
        slow = _slow_seconds(state, "find_or_add_appointment")
    if slow:
        time.sleep(slow)
    return {"data": [{"id": appointment_id, "appointmentDateTime": when}]}


@bp.post("/btsss/api/v3/claims")
def create_claim():
    patient = _patient()
    if patient is None:
        return _btsss_error(401, "Unauthorized")
    body = request.get_json(silent=True) or {}
    state = _state()
    with state.lock:
        failure = _misbehave(state, "create_claim")
        if failure:
            return failure
        appointment = next(((p, when) for (p, when), aid in state.appointments.items()
                            if aid == body.get("appointmentId") and p == patient), None)
        if appointment is None:
            return _btsss_error(400, "Appointment not found")
        day = (patient, appointment[1][:10])
        if day in state.by_claim or state.mode["mode"] == "exists":
            state.counters["duplicates" if day in state.by_claim else "rejections"] += 1
            return _btsss_error(400, "This appointment already has a claim associated with it.")
        claim_id = str(uuid.uuid4())
        state.step_claims[claim_id] = {"claimId": claim_id, "patientId": patient,
                                       "appointmentId": body["appointmentId"], "appointmentDateTime": appointment[1],
                                       "claimName": body.get("claimName"), "expenses": [], "filedAt": None,
                                       "claimNumber": None}
        state.by_claim[day] = f"claim:{claim_id}"
        state.counters["claims_created"] += 1
        slow = _slow_seconds(state, "create_claim")
    if slow:
        time.sleep(slow)  # created first, answered late: the retry must find it, not create a second
    return {"data": {"claimId": claim_id}}


def _own_claim(state: TravelState, claim_id: str, patient: str) -> dict | None:
    claim = state.step_claims.get(claim_id)
    return claim if claim is not None and claim["patientId"] == patient else None


@bp.post("/btsss/api/v3/expenses/mileage")
def add_mileage_expense():
    patient = _patient()
    if patient is None:
        return _btsss_error(401, "Unauthorized")
    body = request.get_json(silent=True) or {}
    state = _state()
    with state.lock:
        failure = _misbehave(state, "add_mileage_expense")
        if failure:
            return failure
        claim = _own_claim(state, str(body.get("claimId")), patient)
        if claim is None:
            return _btsss_error(404, "Claim not found")
        if claim["filedAt"] is not None:
            return _btsss_error(400, "Claim already submitted")
        expense_id = str(uuid.uuid4())
        claim["expenses"].append({"expenseId": expense_id, "expenseType": "Mileage",
                                  "dateIncurred": body.get("dateIncurred"), "tripType": body.get("tripType")})
        state.counters["expenses_added"] += 1
        slow = _slow_seconds(state, "add_mileage_expense")
    if slow:
        time.sleep(slow)
    return {"data": {"expenseId": expense_id}}


@bp.patch("/btsss/api/v3/claims/<claim_id>/submit")
def submit_claim(claim_id: str):
    patient = _patient()
    if patient is None:
        return _btsss_error(401, "Unauthorized")
    state = _state()
    with state.lock:
        failure = _misbehave(state, "submit_claim")
        if failure:
            return failure
        claim = _own_claim(state, claim_id, patient)
        if claim is None:
            return _btsss_error(404, "Claim not found")
        if not claim["expenses"]:
            return _btsss_error(400, "A claim needs an expense before it is submitted")
        if claim["filedAt"] is None:
            claim["filedAt"] = time.time()
            claim["claimNumber"] = state.next_number()
            state.by_number[claim["claimNumber"]] = claim
        answer = _step_claim(state, claim)
        slow = _slow_seconds(state, "submit_claim")
    if slow:
        time.sleep(slow)
    return {"data": answer}


def _step_claim(state: TravelState, claim: dict) -> dict:
    return {"claimId": claim["claimId"], "claimNumber": claim["claimNumber"],
            "claimStatus": state.status_of(claim["filedAt"]), "appointmentDateTime": claim["appointmentDateTime"],
            "expenses": list(claim["expenses"])}


@bp.get("/btsss/api/v3/claims/<claim_id>")
def get_step_claim(claim_id: str):
    patient = _patient()
    if patient is None:
        return _btsss_error(401, "Unauthorized")
    state = _state()
    with state.lock:
        failure = _misbehave(state, "status")
        if failure:
            return failure
        state.counters["status_checks"] += 1
        claim = _own_claim(state, claim_id, patient)
        if claim is None:
            return _btsss_error(404, "Claim not found")
        return {"data": _step_claim(state, claim)}


@bp.get("/btsss/api/v3/claims/search-by-appointment-date")
def search_step_claims():
    """The patient's claims for appointments from startDate to endDate (ISO date-times, inclusive)."""
    patient = _patient()
    if patient is None:
        return _btsss_error(401, "Unauthorized")
    start, end = request.args.get("startDate", ""), request.args.get("endDate", "")
    state = _state()
    with state.lock:
        failure = _misbehave(state, "status")
        if failure:
            return failure
        state.counters["lookups"] += 1
        found = [_step_claim(state, c) for c in state.step_claims.values()
                 if c["patientId"] == patient and start <= c["appointmentDateTime"] <= end]
    return {"data": found}


# --- counters, modes, the portal page --------------------------------------------------------------

@bp.get("/counters")
def counters():
    state = _state()
    with state.lock:
        return {**state.counters, "mode": dict(state.mode), "steps": list(state.steps_seen[-50:]),
                "correlation_ids": list(state.correlation_ids[-50:])}


@bp.post("/mode")
def mode():
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data or {}
    chosen = data.get("mode", "succeed")
    if chosen not in MODES:
        return _problem(422, "invalid_mode", f"mode must be one of {', '.join(MODES)}")
    step = str(data.get("step") or "")
    if step not in STEPS:
        return _problem(422, "invalid_mode", f"step must be one of {', '.join(s for s in STEPS if s)}")
    decision = data.get("decision") or None
    if decision is not None and decision not in DECISIONS:
        return _problem(422, "invalid_mode", f"decision must be one of {', '.join(DECISIONS)}")
    try:
        decide_after = data.get("decide_after_seconds")
        _state().set_mode(chosen, int(data.get("failures") or 0), str(data.get("patient_id") or ""),
                          float(data.get("slow_seconds") or 3), step,
                          float(decide_after) if decide_after not in (None, "") else None, decision)
    except ValueError:
        return _problem(422, "invalid_mode", "failures, slow_seconds and decide_after_seconds must be numbers")
    if request.is_json:
        return counters()
    return redirect("/")


@bp.post("/reset")
def reset():
    state = _state()
    with state.lock:
        state.reset()
    return counters()


@bp.get("/portal")
def claims_portal():
    state = _state()
    with state.lock:
        filings = [_with_status(state, f) for f in state.by_key.values()]
        filings += [{"claimNumber": c["claimNumber"], "patientId": c["patientId"],
                     "appointmentDateTime": c["appointmentDateTime"], "status": state.status_of(c["filedAt"])}
                    for c in state.step_claims.values() if c["claimNumber"]]
    return render_template_string(PORTAL_PAGE, filings=filings)


MODE_FORM = """<h2>Travel claims (token service and claims API)</h2>
<p>Filings {{ c.filings }}, replays {{ c.replays }}, duplicates {{ c.duplicates }}, tokens issued {{ c.tokens_issued }},
claims created in steps {{ c.claims_created }}, status checks {{ c.status_checks }}.
<a href="/travel/counters">Counters as JSON</a>, <a href="/travel/portal">claims portal</a>.</p>
<form method="post" action="/travel/mode">
<label for="travel-mode">Claims API behaviour</label>
<select id="travel-mode" name="mode">{% for m in modes %}
<option{% if m == c.mode.mode %} selected{% endif %}>{{ m }}</option>{% endfor %}</select>
<label for="travel-step">Only at this step (fail, slow)</label>
<select id="travel-step" name="step">{% for s in steps %}
<option value="{{ s }}"{% if s == c.mode.step %} selected{% endif %}>
{{ s or 'every call' }}</option>{% endfor %}</select>
<label for="travel-failures">Failures before success (fail)</label>
<input id="travel-failures" name="failures" type="number" min="0" max="100" value="{{ c.mode.failures_left }}">
<label for="travel-patient">Patient id to refuse (validation)</label>
<input id="travel-patient" name="patient_id" value="{{ c.mode.patient_id }}">
<label for="travel-slow">Seconds to answer (slow)</label>
<input id="travel-slow" name="slow_seconds" type="number" min="0" max="60" step="0.5" value="{{ c.mode.slow_seconds }}">
<label for="travel-decide">Seconds from filing to decision</label>
<input id="travel-decide" name="decide_after_seconds" type="number" min="0" step="1"
 value="{{ c.mode.decide_after_seconds }}">
<label for="travel-decision">Decision</label>
<select id="travel-decision" name="decision">{% for d in decisions %}
<option{% if d == c.mode.decision %} selected{% endif %}>{{ d }}</option>{% endfor %}</select>
<button>Set</button></form>"""


def index_section() -> str:
    """The travel part of the sandbox's index page."""
    state = _state()
    with state.lock:
        snapshot = {**state.counters, "mode": dict(state.mode)}
    return render_template_string(MODE_FORM, c=snapshot, modes=MODES, steps=STEPS, decisions=DECISIONS)


def init_app(app) -> None:
    app.extensions["travel_state"] = TravelState()
    app.register_blueprint(bp)
