"""Stand-ins for the token service (OAuth2 client credentials → JWT) and the claims API.

The claims API honours Idempotency-Key: the same key again is answered with the first filing
(a replay) and never filed twice. It counts distinct filings, replays and duplicates (a second
key for a patient and appointment already filed) at /travel/counters, so tests and the bench can
assert that nothing was filed twice. Behaviour is switchable on the sandbox index page or by
POST /travel/mode: succeed, fail N times then succeed, validation error for a chosen patient, slow.
"""

import hmac
import secrets
import threading
import time

import jwt
from flask import Blueprint, current_app, jsonify, redirect, render_template_string, request

bp = Blueprint("travel_sandbox", __name__, url_prefix="/travel")

MODES = ("succeed", "fail", "validation", "slow")
TOKEN_TTL = 3600

PORTAL_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Travel claims portal</title></head>
<body><main><h1>Travel claims portal (sandbox)</h1>
<p>In production this is where patients file and follow up travel claims.</p>
<h2>Filed claims ({{ filings|length }})</h2><ol>{% for f in filings %}
<li>{{ f.claimNumber }} — patient {{ f.patientId }},
appointment {{ f.appointmentDateTime }}</li>{% endfor %}</ol><p><a href="/">Sandbox</a></p></main></body></html>"""


class TravelState:
    """What the claims API has filed, in memory (the sandbox is one process)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.by_key: dict[str, dict] = {}
        self.by_claim: dict[tuple[str, str], str] = {}
        self.counters = {"filings": 0, "replays": 0, "duplicates": 0, "tokens_issued": 0, "requests": 0,
                         "failures_served": 0, "rejections": 0}
        self.mode = {"mode": "succeed", "failures_left": 0, "patient_id": "", "slow_seconds": 3.0}

    def set_mode(self, mode: str, failures: int = 0, patient_id: str = "", slow_seconds: float = 3.0):
        with self.lock:
            self.mode = {"mode": mode, "failures_left": max(int(failures), 0), "patient_id": str(patient_id or ""),
                         "slow_seconds": max(min(float(slow_seconds), 60.0), 0.0)}


def _state() -> TravelState:
    return current_app.extensions["travel_state"]


def _signing_key() -> str:
    return current_app.config["TRAVEL_CLIENT_SECRET"] + ":sandbox-token-service"


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
    try:
        jwt.decode(header[7:], _signing_key(), algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return False
    return True


def _problem(status: int, code: str, detail: str):
    return jsonify({"code": code, "detail": detail}), status


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
        state.counters["requests"] += 1
        if key in state.by_key:
            state.counters["replays"] += 1
            return jsonify(state.by_key[key]), 200, {"Idempotent-Replayed": "true"}
        mode = state.mode
        if mode["mode"] == "fail" and mode["failures_left"] > 0:
            mode["failures_left"] -= 1
            state.counters["failures_served"] += 1
            return _problem(503, "unavailable", "claims system unavailable (sandbox failure mode)")
        if mode["mode"] == "validation" and str(body["patientId"]) == mode["patient_id"]:
            state.counters["rejections"] += 1
            return _problem(422, "unknown_patient", "no such patient")
        claim = (str(body["patientId"]), str(body["appointmentDateTime"])[:10])
        if claim in state.by_claim:
            state.counters["duplicates"] += 1
            return _problem(409, "claim_exists", "a claim for this patient and day already exists")
        state.counters["filings"] += 1
        filed = {"claimNumber": f"TC-{state.counters['filings']:07d}", "status": "InProgress", **body}
        state.by_key[key] = filed
        state.by_claim[claim] = key
        slow = mode["slow_seconds"] if mode["mode"] == "slow" else 0
    if slow:
        time.sleep(slow)  # filed first, answered late: a worker killed now must replay, not refile
    return jsonify(filed), 201


@bp.get("/counters")
def counters():
    state = _state()
    with state.lock:
        return {**state.counters, "mode": dict(state.mode)}


@bp.post("/mode")
def mode():
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data or {}
    chosen = data.get("mode", "succeed")
    if chosen not in MODES:
        return _problem(422, "invalid_mode", f"mode must be one of {', '.join(MODES)}")
    try:
        _state().set_mode(chosen, int(data.get("failures") or 0), str(data.get("patient_id") or ""),
                          float(data.get("slow_seconds") or 3))
    except ValueError:
        return _problem(422, "invalid_mode", "failures and slow_seconds must be numbers")
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
    with _state().lock:
        filings = list(_state().by_key.values())
    return render_template_string(PORTAL_PAGE, filings=filings)


MODE_FORM = """<h2>Travel claims (token service and claims API)</h2>
<p>Filings {{ c.filings }}, replays {{ c.replays }}, duplicates {{ c.duplicates }}, tokens issued {{ c.tokens_issued }}.
<a href="/travel/counters">Counters as JSON</a>, <a href="/travel/portal">claims portal</a>.</p>
<form method="post" action="/travel/mode">
<label for="travel-mode">Claims API behaviour</label>
<select id="travel-mode" name="mode">{% for m in modes %}
<option{% if m == c.mode.mode %} selected{% endif %}>{{ m }}</option>{% endfor %}</select>
<label for="travel-failures">Failures before success (fail)</label>
<input id="travel-failures" name="failures" type="number" min="0" max="100" value="{{ c.mode.failures_left }}">
<label for="travel-patient">Patient id to refuse (validation)</label>
<input id="travel-patient" name="patient_id" value="{{ c.mode.patient_id }}">
<label for="travel-slow">Seconds to answer (slow)</label>
<input id="travel-slow" name="slow_seconds" type="number" min="0" max="60" step="0.5" value="{{ c.mode.slow_seconds }}">
<button>Set</button></form>"""


def index_section() -> str:
    """The travel part of the sandbox's index page."""
    state = _state()
    with state.lock:
        snapshot = {**state.counters, "mode": dict(state.mode)}
    return render_template_string(MODE_FORM, c=snapshot, modes=MODES)


def init_app(app) -> None:
    app.extensions["travel_state"] = TravelState()
    app.register_blueprint(bp)
