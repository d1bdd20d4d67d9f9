"""The hot paths' SQL budgets: each issues at most the statements it was measured at and at most one
commit (bench/request_cost.py prints the same counts for full-size data). A new query in a list row or
a second commit fails here, in CI, long before anyone times a page. No timing: counts are exact.

A budget may go down when a path gets cheaper; raising one needs the reason in the commit message.

Every path but the slot search shows or reads patient data, so each also proves its audit event is
written in the request's one commit (not beside it, on another connection or after the answer).
"""

import random
import re
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from portal import live
from portal.consultations.services import QUEUE_TOPIC
from portal.extensions import db, redis_client
from portal.sandbox.referral_system import random_fodselsnummer
from tests.conftest import DIARY_MONDAY, csrf_token_from, make_consultation
from tests.consultations.test_patient_side import in_progress_chat
from tests.ops.test_workers import counting_round_trips
from tests.partners.fixtures import sign_in_partner

HX = {"HX-Request": "true"}

# path: (SQL statements, commits) at most, per request. The audit event is 2 of them (lock the chain's
# head, insert the event: the INSERT moves the head on).
BUDGETS = {
    "secretary queue": (4, 1),  # the user, the page (count and same-patient counts inside), the audit event
    "secretary queue, a patient twice": (5, 1),  # and that patient's other referrals
    "doctor queue": (4, 1),  # the user, the page (the capped count inside), the audit event
    "chat post": (7, 1),
    "chat poll": (4, 1),
    "partner list": (4, 1),
    "slot search": (3, 0),
    "webhook intake": (4, 1),  # the patient (nothing when known), the referral (its patient found inside), the event
}


# path: Redis round trips at most, per request (the session check is one; a live page's counter read or
# bump one each). Commands a server-side script runs inside Redis are not round trips.
REDIS_BUDGETS = {
    "chat post": 2,  # the doctor's session check, the chat's counter raised to the new message after the commit
    "chat poll": 1,  # the chat's version (a patient's link session has no server-side record)
    "webhook intake": 1,  # the screening queue's bump
}
INSIDE_THE_SESSION_SCRIPT = {"cmdstat_hmget", "cmdstat_hset", "cmdstat_expire"}
# path: the commands its other scripts run inside Redis (live.raise_to reads the counter and sets it).
INSIDE_ITS_SCRIPTS = {"chat post": {"cmdstat_get", "cmdstat_set"}}


class Counted:
    def __init__(self):
        self.statements, self.commits, self.sql = 0, 0, []
        self.redis: dict[str, int] = {}


@contextmanager
def counting(app):
    """SQL statements (not BEGIN/PRAGMA) and commits on the app's engine while the block runs."""
    counted = Counted()

    def statement(conn, cursor, sql, *args):
        if not sql.startswith(("BEGIN", "PRAGMA")):
            counted.statements += 1
            counted.sql.append(" ".join(sql.split())[:120])

    def commit(conn):
        counted.commits += 1
        counted.sql.append("COMMIT")

    with app.app_context():
        engine = db.engine
        redis = redis_client()
        redis.config_resetstat()
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
        counted.redis = {name: stats["calls"] for name, stats in redis.info("commandstats").items()
                         if name not in INSIDE_THE_SESSION_SCRIPT | {"cmdstat_config", "cmdstat_info"}}


def within_budget(app, path: str, request, status: int = 200):
    """Make the request twice (the first warms caches, as a running server's are), count the second."""
    assert request().status_code == status
    with counting(app) as counted:
        response = request()
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert_within_budget(path, counted)
    return response


def assert_within_budget(path: str, counted: Counted) -> None:
    statements, commits = BUDGETS[path]
    assert counted.commits <= commits, f"{path}: {counted.commits} commits (budget {commits}): {counted.sql}"
    assert counted.statements <= statements, \
        f"{path}: {counted.statements} SQL statements (budget {statements}): {counted.sql}"
    if path in REDIS_BUDGETS:
        inside = INSIDE_ITS_SCRIPTS.get(path, set())
        round_trips = sum(calls for name, calls in counted.redis.items() if name not in inside)
        assert round_trips <= REDIS_BUDGETS[path], \
            f"{path}: {counted.redis} Redis round trips (budget {REDIS_BUDGETS[path]})"
    if path != "slot search":
        assert any(sql.startswith("INSERT INTO audit_events") for sql in counted.sql), f"{path} not audited"
        assert counted.sql[-1] == "COMMIT", f"{path}: the audit event is not in the request's commit: {counted.sql}"


def test_secretary_queue(app, staff_client, post_referral, seed_referral):
    rng = random.Random(3)
    patients = [random_fodselsnummer(rng) for _ in range(3)]
    for n, pid in enumerate(patients):
        assert post_referral({**seed_referral, "JournalGuid": f"240b54a7-8c2a-4c3c-80a4-0bc63e2c949{n}",
                              "PID": pid}).status_code == 201
    secretary = staff_client("secretary")
    page = within_budget(app, "secretary queue", lambda: secretary.get("/queue"))
    assert "3 referrals waiting" in page.get_data(as_text=True)
    assert post_referral({**seed_referral, "JournalGuid": "240b54a7-8c2a-4c3c-80a4-0bc63e2c9499",
                          "PID": patients[0]}).status_code == 201
    page = within_budget(app, "secretary queue, a patient twice", lambda: secretary.get("/queue"))
    assert page.get_data(as_text=True).count("2 open for this patient") == 2


def test_doctor_queue(app, staff_client):
    for _ in range(3):
        make_consultation(app)
    doctor = staff_client("doctor")
    page = within_budget(app, "doctor queue", lambda: doctor.get("/consultations"))
    assert page.get_data(as_text=True).count('id="consultation-') >= 3


def test_the_queues_read_their_live_counter_in_the_session_checks_round_trip(app, staff_client, monkeypatch):
    make_consultation(app)
    doctor, secretary = staff_client("doctor"), staff_client("secretary")
    doctor.get("/consultations")
    with counting_round_trips(monkeypatch) as sent:
        page = doctor.get("/consultations").get_data(as_text=True)
        queue_round_trips = len(sent)
        since = int(re.search(r"/consultations/poll\?since=(-?\d+)", page).group(1))
        assert doctor.get(f"/consultations/poll?since={since}").status_code == 204
        poll_round_trips = len(sent) - queue_round_trips
        assert secretary.get("/queue").status_code == 200
        secretary_round_trips = len(sent) - queue_round_trips - poll_round_trips
    assert (queue_round_trips, poll_round_trips, secretary_round_trips) == (1, 1, 1)
    with app.app_context():
        assert since == live.version(QUEUE_TOPIC)
        live.bump(QUEUE_TOPIC)
    changed = doctor.get(f"/consultations/poll?since={since}")
    assert changed.status_code == 200 and f"since={since + 1}" in changed.get_data(as_text=True)


def test_chat_post_and_poll(app, client, sandbox, staff_client):
    cid, room, doctor = in_progress_chat(app, client, staff_client)
    doctor_page = doctor.get(f"/consultations/{cid}").get_data(as_text=True)
    chat_token = re.search(r'name="chat_token" value="([^"]+)"', doctor_page).group(1)
    messages = iter(range(100))
    patient_at = {"since": -2, "after": 0}

    def post():
        return doctor.post(f"/consultations/{cid}/chat", headers=HX, data={
            "csrf_token": csrf_token_from(doctor_page), "chat_token": chat_token,
            "message": f"How are you? ({next(messages)})"})

    def poll():
        answer = client.get(f"/c/room/chat?since={patient_at['since']}&after={patient_at['after']}", headers=HX)
        found = re.search(r"since=(-?\d+)&amp;after=(\d+)", answer.get_data(as_text=True))
        if found:
            patient_at.update(since=int(found.group(1)), after=int(found.group(2)))
        return answer

    within_budget(app, "chat post", post)
    poll()  # the patient catches up
    assert post().status_code == 200
    with counting(app) as counted:
        answer = poll()  # fetches the new message
    assert answer.status_code == 200 and "How are you? (2)" in answer.get_data(as_text=True)
    assert_within_budget("chat poll", counted)


def test_partner_list(app, partners):
    scheduler = sign_in_partner(app, "northside", "scheduler")
    page = within_budget(app, "partner list", lambda: scheduler.get("/partner/care-requests"))
    assert f'id="care-request-{partners["northside"]["care_request_id"]}"' in page.get_data(as_text=True)


def test_slot_search(app, client, fhir_token, diary_set_up):
    headers = {"Authorization": f"Bearer {fhir_token(['slot/*.read'])}"}
    query = (f"/fhir/stu3/Slot?schedule.actor:healthcareservice={diary_set_up['service_id']}"
             f"&start=ge{DIARY_MONDAY}T00:00:00Z&start=le2030-01-13T23:59:59Z&status=free"
             "&_include=Slot:schedule&_include:iterate=Schedule:actor:Practitioner"
             "&_include:iterate=Schedule:actor:PractitionerRole&_include:iterate=Schedule:actor:HealthcareService"
             "&_include:iterate=HealthcareService:Organization&_include:iterate=HealthcareService:location")
    answer = within_budget(app, "slot search", lambda: client.get(query, headers=headers))
    assert answer.json["total"] == 60


@pytest.mark.parametrize("known_patient", [False, True], ids=["new patient", "known patient"])
def test_webhook_intake(app, post_referral, seed_referral, known_patient):
    rng = random.Random(17)
    guids = iter(str(uuid.UUID(int=n)) for n in range(1, 10))
    if known_patient:
        assert post_referral({**seed_referral, "JournalGuid": next(guids)}).status_code == 201

    def receive():
        pid = seed_referral["PID"] if known_patient else random_fodselsnummer(rng)
        return post_referral({**seed_referral, "JournalGuid": next(guids), "PID": pid})

    within_budget(app, "webhook intake", receive, status=201)


def test_an_audited_page_reads_and_writes_its_event_in_one_writer_transaction_then_renders_as_a_reader(app):
    """On SQLite: the page's transaction begins as a writer (so its event can join it), and once the
    event is committed, what the page still reads while rendering holds no writer's turn."""
    from sqlalchemy import select

    from portal.security import audit
    from portal.security.models import StaffUser

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL's transactions write whenever they need to")
    began = []

    def traced(sql):  # what SQLite itself ran: the BEGINs go to pysqlite directly, past SQLAlchemy's events
        if sql.startswith(("BEGIN", "COMMIT")) or sql.startswith("INSERT INTO audit_events"):
            step = sql.split()[0] + (" " + sql.split()[1] if sql.startswith("BEGIN IMMEDIATE") else "")
            if not began or began[-1] != step:  # pysqlite traces it again for its trigger and the trigger's UPDATE
                began.append(step)

    def trace(dbapi_connection, record, proxy):
        dbapi_connection.set_trace_callback(traced)

    def untrace(dbapi_connection, record):
        dbapi_connection.set_trace_callback(None)

    with app.test_request_context("/consultations"):
        event.listen(db.engine, "checkout", trace)
        event.listen(db.engine, "checkin", untrace)
        try:
            db.session.scalars(select(StaffUser)).all()
            audit.record_read("consultation.queue_viewed", actor=("staff", "1"), consultation_ids=[])
            db.session.scalars(select(StaffUser)).all()
        finally:
            db.session.remove()
            event.remove(db.engine, "checkout", trace)
            event.remove(db.engine, "checkin", untrace)
    assert began == ["BEGIN IMMEDIATE", "INSERT", "COMMIT", "BEGIN"]
