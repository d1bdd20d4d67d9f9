"""Fixtures: one app per test session on a real database and a real Redis; clean state per test.

The database is a SQLite file in a temporary folder, or the PostgreSQL of DATABASE_URL (CI runs
both). Redis is the embedded server started in that folder, or the one of REDIS_URL. The schema
is built by running the Alembic migrations, so every test run also proves they work.
"""

import contextlib
import os
import re
import tempfile
import threading

import pytest
from hypothesis import HealthCheck, settings

# Generated input is deterministic in CI (derandomized, no example database), so a failure found there
# is found again anywhere with the same code; HYPOTHESIS_PROFILE=explore searches wider and at random.
# The full budget runs once per CI run, on the SQLite pass; the PostgreSQL pass (the same parsers and
# validators) runs a quarter of it, as it skips the browser sweep.
GENERATED_BUDGET = 25 if os.environ.get("DATABASE_URL", "").startswith("postgresql") else 100
settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=GENERATED_BUDGET,
                          print_blob=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
settings.register_profile("explore", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_instance = tempfile.mkdtemp(prefix="care-portal-test-")
os.environ["INSTANCE_PATH"] = _instance
# The suite uses generated secrets and the embedded Redis, also on CI's PostgreSQL (which alone would
# choose the production profile); processes the tests start inherit it. tests/test_config.py checks production.
os.environ["PORTAL_ENV"] = "development"
# The suite's clinic is in Oslo (fødselsnummer, ICPC-2, Oslo's days in follow-ups and reports) while the install's
# region is the default GB; CLINIC_TIME_ZONE alone would follow PORTAL_TIME_ZONE (London). tests/test_config.py
# checks that default.
os.environ.setdefault("CLINIC_TIME_ZONE", "Europe/Oslo")

import time_machine  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from portal import create_app, live  # noqa: E402
from portal.extensions import db, redis_client, worker_redis  # noqa: E402
from portal.i18n import catalogs  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402

# Fixtures shared by several packages' tests (partners, care requests, triage, reports).
pytest_plugins = ["tests.partners.fixtures"]

PASSWORD = "correct horse battery"
# Staff of the roles that need two-factor (admin, doctor, reporting by default) get this TOTP secret.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

# --- the clock -------------------------------------------------------------------------------------
# A test that depends on the time of day freezes it (`frozen_clock`, or time-machine's own
# `time_machine` fixture). To find tests that still read the wall clock, run the whole suite as if it
# were another moment: `pytest --now=2026-12-01T22:15:00Z` or `CARE_PORTAL_TEST_NOW=... pytest`. The
# clock then starts at that instant in every test and ticks on from there.
# Tests that run other processes (which keep the real clock) are marked `real_clock` and left alone.


def pytest_addoption(parser):
    parser.addoption("--now", default=os.environ.get("CARE_PORTAL_TEST_NOW") or None,
                     help="run every test as if the wall clock started at this ISO 8601 instant "
                          "(with a zone, e.g. 2027-03-28T00:30:00Z); also CARE_PORTAL_TEST_NOW")


def pytest_configure(config):
    config.addinivalue_line("markers", "real_clock: starts processes of its own, so --now cannot move its clock")


# A Wednesday mid-morning at the clinics (10:00 in London, 11:00 in Oslo): far from midnight and from a
# daylight-saving change, so "in 20 minutes" and "in two hours" are still today wherever the clinic is.
CLINIC_MORNING = "2029-11-14T10:00:00Z"


@pytest.fixture
def clinic_morning():
    """The clock starts at CLINIC_MORNING and ticks on, for tests whose answer depends on the time of day."""
    with time_machine.travel(CLINIC_MORNING, tick=True) as traveller:
        yield traveller


def child_clock_env() -> dict:
    """Environment for a process a test starts through tests/run_on_test_clock.py: the test's moment."""
    from datetime import datetime, timezone

    if time_machine.escape_hatch.is_travelling():
        return {"CARE_PORTAL_TEST_NOW": datetime.now(timezone.utc).isoformat()}
    return {"CARE_PORTAL_TEST_NOW": ""}


@pytest.fixture(autouse=True)
def shifted_clock(request):
    """With --now, every test begins at that instant; tests that freeze their own time override it."""
    now = request.config.getoption("--now")
    if not now or request.node.get_closest_marker("real_clock"):
        yield
        return
    with time_machine.travel(now, tick=True):
        yield


def _reset_postgres_schema(app):
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))


# htmx reads only hx-* (or data-hx-*) attributes; one spelled hx_get is silently ignored and leaves a
# control dead. Every HTML response of every test is checked, pages and fragments alike.
HX_UNDERSCORE = re.compile(rb"<[^>]*?\s(?:data-)?hx_[a-z_]*\s*=", re.IGNORECASE)
_markup_problems: list[str] = []


def _record_misspelt_htmx(response):
    if response.mimetype == "text/html" and not response.is_streamed:
        match = HX_UNDERSCORE.search(response.get_data())
        if match:
            from flask import request

            _markup_problems.append(f"{request.endpoint}: ...{match.group(0)[-160:].decode(errors='replace')}")
    return response


@pytest.fixture(scope="session")
def app():
    catalogs.compile_all()  # `make test` compiled them already; a bare `pytest` after a .po change needs it
    app = create_app({"TESTING": True, "SERVER_NAME": None, "PASSWORD_HASHING": "cheapest"})
    app.after_request(_record_misspelt_htmx)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        _reset_postgres_schema(app)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield app
    if not os.environ.get("REDIS_URL"):
        stop_embedded_redis(_instance)


@pytest.fixture(autouse=True)
def clean_state(app):
    """Every test starts with empty tables and an empty Redis."""
    live.settle_coalesced_bumps()  # the last test's coalesced bump lands before the flush, not in this test
    with app.app_context():
        redis_client().flushdb()
        tables = [t for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            for table in tables:
                conn.execute(table.delete())
    _markup_problems.clear()
    yield
    assert not _markup_problems, f"htmx ignores attributes spelled with '_': {_markup_problems}"


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html) or \
        re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def without_csrf_tokens(html: str) -> str:
    """The page with its CSRF token (form fields and hx-headers alike) replaced by TOKEN.

    A token carries the second it was signed in, so two answers a second apart differ there
    even within one session; compare pages through this.
    """
    return html.replace(csrf_token_from(html), "TOKEN")


def make_staff(app, role: str, email: str | None = None, name: str | None = None, two_factor: bool | None = None):
    """A staff user with PASSWORD; with two-factor on (secret TOTP_SECRET) when the role requires it."""
    from portal.security import two_factor as totp
    from portal.security.staff_users import create_or_update_user

    with app.app_context():
        user = create_or_update_user(email or f"{role}@test.example", PASSWORD, role, name or f"Test {role.title()}")
        if two_factor or (two_factor is None and role in app.config["TWO_FACTOR_REQUIRED_ROLES"]):
            totp.enable_with_secret(user, TOTP_SECRET)
            db.session.commit()
        return user.id


def fresh_totp_code(app, email: str) -> str:
    """The current code of a test user. Each helper sign-in is taken as the first in its time step (the
    last accepted step is forgotten), so tests can sign one user in twice in 30 seconds; the replay rule
    itself is tested in tests/security/test_two_factor.py."""
    import pyotp
    from sqlalchemy import update

    from portal.security.models import StaffUser

    with app.app_context():
        db.session.execute(update(StaffUser).where(StaffUser.email == email.strip().lower())
                           .values(totp_last_step=None))
        db.session.commit()
    return pyotp.TOTP(TOTP_SECRET).now()


def pass_code_step(page, app, email: str) -> None:
    """In a browser, after "Sign in" was pressed: the code step, when the account has two-factor on."""
    page.wait_for_url(lambda url: "/login" not in url or url.endswith("/login/code"))
    if page.url.endswith("/login/code"):
        page.get_by_label("Code").fill(fresh_totp_code(app, email))
        page.get_by_role("button", name="Continue").click()


def sign_in(client, email: str, password: str = PASSWORD):
    """The sign-in form, and the code step when the account has two-factor on: the last response."""
    page = client.get("/login")
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    if response.status_code == 302 and response.headers["Location"] == "/login/code":
        page = client.get("/login/code")
        response = client.post("/login/code", data={"code": fresh_totp_code(client.application, email),
                                                    "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    return response


@pytest.fixture
def staff_client(app):
    """A test client signed in with the given role: `staff_client("secretary")`."""

    def make(role: str = "secretary", email: str | None = None):
        email = email or f"{role}@test.example"
        make_staff(app, role, email)
        c = app.test_client()
        response = sign_in(c, email)
        assert response.status_code == 302, response.get_data(as_text=True)
        c.csrf = csrf_token_from(c.get("/queue" if role in ("secretary", "admin") else "/", follow_redirects=True)
                                 .get_data(as_text=True))
        return c

    return make


@contextlib.contextmanager
def serve_on_loopback(wsgi_app):
    """`wsgi_app` served over real HTTP on a free loopback port (threaded) for the block; yields its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def live_server(app):
    """The portal served over real HTTP on loopback, for browser tests and multi-client tests."""
    with serve_on_loopback(app) as url:
        yield url


@pytest.fixture
def post_referral(client, app):
    """POST a referral to the webhook, signed like the referral system signs it."""
    from portal.sandbox.referral_system import signed_request

    def post(payload, timestamp=None, secret=None, headers=None):
        body, signed = signed_request(secret or app.config["REFERRAL_WEBHOOK_SECRET"], payload, timestamp)
        signed.update(headers or {})
        return client.post("/api/referrals", data=body, headers=signed)

    return post


SEED_REFERRAL = {
    "JournalGuid": "240b54a7-8c2a-4c3c-80a4-0bc63e2c9493",
    "PID": "13116900216",
    "FormatId": "http://ehelse.no/xmlstds/henvisning/2017-11-30",
    "MessageTimestamp": "2022-11-08T22:51:10.1127156Z",
    "Firstname": "Line",
    "Lastname": "Danser",
    "Email": "line.danser@example.com",
    "PhoneNumber": "+4712345678",
}


@pytest.fixture
def seed_referral():
    return dict(SEED_REFERRAL)


# --- scheduling and FHIR ---------------------------------------------------------------------------

# A Monday far enough ahead that "today" never matters; London is on GMT then, so local = UTC.
DIARY_MONDAY = "2030-01-07"
VALID_NHS_NUMBER = "9434765919"


@pytest.fixture
def diary_set_up(app):
    """One service with a Mon-Fri 09:00-12:00 diary of 15-minute slots for the week of DIARY_MONDAY."""
    from datetime import date, time, timedelta

    from portal.scheduling import services

    with app.app_context():
        schedule = services.set_up_schedule(
            name="Minor injuries — Dr Patel", service_name="Minor injuries unit", organisation_code="RXX01",
            location_name="Riverside Health Centre", practitioner_given="Asha", practitioner_family="Patel",
        )
        for weekday in range(5):
            services.add_weekly_template(schedule.id, weekday=weekday, start_time=time(9), end_time=time(12),
                                         slot_minutes=15)
        monday = date.fromisoformat(DIARY_MONDAY)
        services.generate_slots(schedule.id, monday, monday + timedelta(days=6))
        ids = {"schedule_id": schedule.id, "service_id": schedule.healthcare_service_id,
               "location_id": schedule.location_id, "practitioner_id": schedule.practitioner_id}
        db.session.remove()
        return ids


def service_in_zone(zone: str, code: str) -> int:
    """A healthcare service whose clinic is in `zone` (one Monday hour of slots, 3 June 2030), inside the
    caller's app context: lists show its times in that zone, not the install's."""
    from datetime import date, time

    from portal.scheduling import services

    schedule = services.set_up_schedule(name=f"Diary {code}", service_name=f"Service {code}",
                                        organisation_code=code, location_name=f"Clinic {code}", timezone_name=zone)
    services.add_weekly_template(schedule.id, weekday=0, start_time=time(9), end_time=time(10), slot_minutes=30)
    services.generate_slots(schedule.id, date(2030, 6, 3), date(2030, 6, 3))
    return schedule.healthcare_service_id


def slot_ids(app, service_id: int | None = None) -> list[int]:
    from sqlalchemy import select

    from portal.scheduling.models import Slot

    with app.app_context():
        query = select(Slot.id).order_by(Slot.start, Slot.id)
        if service_id is not None:
            query = query.where(Slot.healthcare_service_id == service_id)
        return list(db.session.scalars(query))


@pytest.fixture
def api_client(app):
    """Create an API client: `api_client(scopes=[...])` → (client_id, secret)."""
    from portal.fhir import oauth

    def make(scopes=None, name="Consumer system"):
        with app.app_context():
            created, secret = oauth.create_api_client(name=name, scopes=list(scopes or oauth.SCOPES))
            return created.client_id, secret

    return make


@pytest.fixture
def fhir_token(client, api_client):
    """A bearer token from POST /oauth/token for a new client with the given scopes."""

    def make(scopes=None):
        client_id, secret = api_client(scopes)
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(client_id, secret))
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["access_token"]

    return make
# -- the sandbox of external systems, and consultations ------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sandbox_server(app):
    """The sandbox app (chat keys, video, SMS gateway, SMTP mail catcher) on loopback ports."""
    from portal.sandbox import create_app as create_sandbox

    smtp_port = _free_port()
    sandbox = create_sandbox(smtp_port=smtp_port)
    with serve_on_loopback(sandbox) as url:
        app.config.update(SANDBOX_URL=url, SMTP_PORT=smtp_port, VIDEO_JOIN_URL=f"{url}/video/join")
        yield sandbox.extensions["sandbox_store"], url
    sandbox.extensions["sandbox_smtp"].stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The sandbox's store of what it received, emptied and healthy for each test."""
    store, url = sandbox_server
    with store.lock:
        store.sms.clear()
        store.emails.clear()
        store.chat_rooms.clear()
        store.video_rooms.clear()
        for name in store.failures:
            store.failures[name] = "ok"
    store.url = url
    return store


def run_notification_jobs(app) -> None:
    """Work the notifications queue until it is empty, in this process (like `flask worker --burst`)."""
    from rq import Queue, SimpleWorker

    with app.app_context():
        connection = worker_redis()
        SimpleWorker([Queue("notifications", connection=connection)], connection=connection).work(
            burst=True, with_scheduler=False)
        db.session.remove()


PATIENT_FNR = "13116900216"  # Line Danser, born 1969-11-13 (synthetic)


def make_patient(app, fnr: str = PATIENT_FNR, last_name: str = "Danser", email: str | None = "line@example.com",
                 phone: str | None = "+4791234567", language: str | None = "en") -> int:
    """A referral's patient. Referral patients speak bokmål; the tests' read English unless a test says so."""
    from portal.patients.models import Patient
    from portal.patients.services import fetch_or_create_patient_from_referral

    with app.app_context():
        patient_id = fetch_or_create_patient_from_referral(fodselsnummer=fnr, first_name="Line", last_name=last_name,
                                                           email=email, phone=phone, phone_needs_check=False)
        db.session.get(Patient, patient_id).language = language
        db.session.commit()
        return patient_id


def make_consultation(app, patient_id: int | None = None, channels=("CHAT", "VIDEO"), primary="VIDEO") -> int:
    from portal.consultations.services import create_consultation

    patient_id = patient_id or make_patient(app)
    with app.app_context():
        consultation = create_consultation(patient_id=patient_id, source="referral", enabled_channels=list(channels),
                                           primary_channel=primary)
        db.session.commit()
        return consultation.id
