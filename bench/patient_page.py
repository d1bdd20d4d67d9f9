"""The patient record page: one patient with 500 history entries among 100k patients. Prints figures;
never passes or fails.

    .venv/bin/python bench/patient_page.py                    # SQLite in a temporary folder
    DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/patient_page.py   # an EMPTY database of yours

It bulk-inserts 100k patients, each with a referral, a consultation and a message (so every table the
history reads has 100k rows of other patients), and one patient with 500 entries: 100 referrals with
two calls each, 100 consultations (60 with a sealed report), 100 appointments (60 checked in), 50
travel claims, 50 partner care requests and 100 messages. gunicorn (gunicorn.conf.py, one worker per
CPU) serves it on loopback; wrk at 4 connections measures, in the same run and one after the other,
GET /healthz (hello world: the floor of a request here) and, signed in as the patient's doctor,
GET /patients/<id> (details, the newest 50 entries, and the audit event every view writes), and the
fifth page of older entries as htmx asks for it. Server CPU per request is the figure to compare
across runs; it is printed as a ratio to hello world's.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("PORTAL_ENV", "development")  # generated secrets, embedded Redis: also on PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
INSTANCE = tempfile.mkdtemp(prefix="care-portal-bench-")
# The bench doctor signs in with the password only (two-factor has its own tests; it is not what is measured).
os.environ.update(INSTANCE_PATH=INSTANCE, RATELIMIT_ENABLED="0", SESSION_IDLE_MINUTES="120", LOG_LEVEL="WARNING",
                  TWO_FACTOR_REQUIRED_ROLES="")

import requests  # noqa: E402
from harness import Gunicorn, csrf_field, fresh_schema, run_wrk, with_cpu, wrk_line  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.care_requests.models import CareRequest, PartnerPatient  # noqa: E402
from portal.checkin.models import CheckIn  # noqa: E402
from portal.consultations.models import Consultation, ConsultationResult  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.notifications.models import Notification  # noqa: E402
from portal.partners.models import Partner, PartnerUser  # noqa: E402
from portal.patients.models import Patient  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402
from portal.referrals.models import CallAttempt, Referral  # noqa: E402
from portal.scheduling import services as scheduling  # noqa: E402
from portal.scheduling.models import Appointment, Slot  # noqa: E402
from portal.security.staff_users import create_or_update_user  # noqa: E402
from portal.travel_pay.models import TravelClaim  # noqa: E402

PASSWORD = "bench-password-1"
DOCTOR = "bench-doctor@example.org"
BATCH = 10_000


def _batches(rows_of, total: int):
    for start in range(0, total, BATCH):
        yield [rows_of(n) for n in range(start, min(start + BATCH, total))]


def build(app, patients: int) -> int:
    """Returns the id of the patient with 500 history entries."""
    with app.app_context():
        fresh_schema(app)
        doctor = create_or_update_user(DOCTOR, PASSWORD, "doctor", "Dr. Bench")
        other_doctor = create_or_update_user("bench-other@example.org", PASSWORD, "doctor", "Dr. Other")
        secretary = create_or_update_user("bench-secretary@example.org", PASSWORD, "secretary", "Bench Secretary")
        db.session.commit()
        day0 = datetime(2026, 1, 1, 8)
        with db.engine.begin() as conn:
            for rows in _batches(lambda n: {
                    "first_name": f"P{n}", "last_name": "Bench",
                    "birth_date": date(1950, 1, 1) + timedelta(days=n % 20000), "phone": f"+4790{n:06d}",
                    "phone_needs_check": False, "from_insurer_referral": True, "marketing_allowed": False,
                    "language": "nb", "created_at": day0}, patients):
                conn.execute(insert(Patient), rows)
            first = conn.scalar(select(Patient.id).order_by(Patient.id).limit(1))
            # Every other patient has a referral, a consultation and a message: the tables the history
            # reads are full of other people's rows.
            for rows in _batches(lambda n: {
                    "journal_guid": f"00000000-0000-4000-8000-{n:012d}", "patient_id": first + n,
                    "format_id": "bench", "message_timestamp": day0, "payload": "{}", "payload_fingerprint": "x",
                    "phone_needs_check": False, "status": "converted", "received_at": day0 + timedelta(minutes=n),
                    "call_attempt_count": 0}, patients):
                conn.execute(insert(Referral), rows)
            for rows in _batches(lambda n: {
                    "code": f"B{n:07d}", "patient_id": first + n, "source": "referral", "state": "completed",
                    "category": "insurance", "enabled_channels": ["CHAT"], "primary_channel": "CHAT", "options": {},
                    "service_provider_id": other_doctor.id, "created_at": day0 + timedelta(minutes=n),
                    "starts_at": day0 + timedelta(minutes=n + 5), "ends_at": day0 + timedelta(minutes=n + 20)},
                    patients):
                conn.execute(insert(Consultation), rows)
            for rows in _batches(lambda n: {
                    "channel": "sms", "kind": "consultation.link", "recipient": f"+4790{n:06d}",
                    "body": "Your doctor is ready", "patient_id": first + n, "status": "sent",
                    "created_at": day0 + timedelta(minutes=n)}, patients):
                conn.execute(insert(Notification), rows)
        target = _the_patient(doctor.id, secretary.id, first + patients // 2)
        db.session.remove()
        return target


def _the_patient(doctor_id: int, secretary_id: int, patient_id: int) -> int:
    """500 entries of every kind for one patient, spread over two years."""
    start = datetime(2024, 6, 1, 9)
    patient = db.session.get(Patient, patient_id)
    patient.first_name, patient.last_name, patient.national_id = "Line", "Danser", "13116900216"
    patient.email, patient.home_address = "line@example.com", "Storgata 1\n0155 Oslo"
    db.session.flush()
    # Times shuffled across the kinds, so every page of the history holds entries of every kind.
    at = [start + timedelta(hours=31 * n) for n in range(500)]
    random.Random(18).shuffle(at)
    referrals = [Referral(journal_guid=f"10000000-0000-4000-8000-{n:012d}", patient_id=patient_id, format_id="bench",
                          message_timestamp=at[n], payload="{}", payload_fingerprint="x", status="converted",
                          received_at=at[n], call_attempt_count=2) for n in range(100)]
    db.session.add_all(referrals)
    db.session.flush()
    for n, referral in enumerate(referrals):
        db.session.add_all([CallAttempt(referral_id=referral.id, outcome="no_answer", by_id=secretary_id,
                                        at=at[n] + timedelta(minutes=10)),
                            CallAttempt(referral_id=referral.id, outcome="reached", by_id=secretary_id,
                                        note="Prefers video", at=at[n] + timedelta(minutes=40))])
    consultations = [Consultation(code=f"T{n:07d}", patient_id=patient_id, source="referral",
                                  state="completed" if n % 5 else "cancelled", category="insurance",
                                  enabled_channels=["VIDEO"], primary_channel="VIDEO", options={},
                                  service_provider_id=doctor_id, created_at=at[100 + n],
                                  starts_at=at[100 + n] + timedelta(minutes=14),
                                  ends_at=at[100 + n] + timedelta(minutes=31)) for n in range(100)]
    db.session.add_all(consultations)
    db.session.flush()
    for consultation in consultations[:60]:
        db.session.add(ConsultationResult(consultation_id=consultation.id, author_id=doctor_id, icpc2_code="R74",
                                          outcome="helped", notes="Sealed notes"))
    schedule = scheduling.set_up_schedule(name="Bench clinic", service_name="Bench service", organisation_code="B1",
                                          location_name="Bench Health Centre")
    slots = [Slot(schedule_id=schedule.id, healthcare_service_id=schedule.healthcare_service_id, start=at[200 + n],
                  end=at[200 + n] + timedelta(minutes=15), status="busy") for n in range(100)]
    db.session.add_all(slots)
    db.session.flush()
    appointments = [Appointment(slot_id=slot.id, active_slot_id=slot.id, patient_id=patient_id, start=slot.start,
                                end=slot.end, booked_by=f"staff:{secretary_id}") for slot in slots]
    db.session.add_all(appointments)
    db.session.flush()
    for appointment in appointments[:60]:
        db.session.add(CheckIn(appointment_id=appointment.id, patient_id=patient_id, contact_ok=True,
                               emergency_contact_ok=True, next_of_kin_ok=True, travel_answers={},
                               travel_outcome="queued", checked_in_at=appointment.start - timedelta(minutes=5)))
    for n, appointment in enumerate(appointments[:50]):
        db.session.add(TravelClaim(patient_id=patient_id, appointment_id=appointment.id,
                                   appointment_date=appointment.start.date(), answers={}, status="filed",
                                   claim_number=f"TC-{n:04d}", claim_status="InProcess", max_attempts=3,
                                   next_attempt_at=appointment.start, idempotency_key=f"bench-{n}",
                                   created_at=at[300 + n]))
    partner = Partner(name="Northside Care", tenant="bench-northside", idp_issuer="https://idp.example/b",
                      idp_client_id="bench")
    db.session.add(partner)
    db.session.flush()
    author = PartnerUser(partner_id=partner.id, email="nurse@northside.example", role="scheduler")
    db.session.add_all([author, PartnerPatient(partner_id=partner.id, patient_id=patient_id)])
    db.session.flush()
    db.session.add_all([CareRequest(partner_id=partner.id, patient_id=patient_id, status="booked",
                                    created_by_id=author.id, created_at=at[350 + n]) for n in range(50)])
    db.session.add_all([Notification(channel="sms" if n % 2 else "email", kind="consultation.link",
                                     recipient="+4791234567", body="Your doctor is ready", patient_id=patient_id,
                                     status="sent", created_at=at[400 + n]) for n in range(100)])
    db.session.commit()
    return patient_id


def sign_in(base: str) -> dict:
    session = requests.Session()
    page = session.get(f"{base}/login").text
    token = csrf_field(page)
    answer = session.post(f"{base}/login", data={"email": DOCTOR, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False)
    assert answer.status_code == 302, answer.status_code
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in session.cookies.items())}


def statements_per_page(app, patient_id: int) -> int:
    """SQL statements of one record page, in process (the test suite holds the same figure constant)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = csrf_field(page)
    client.post("/login", data={"email": DOCTOR, "password": PASSWORD, "csrf_token": token})
    client.get(f"/patients/{patient_id}")
    counted = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: counted.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(f"/patients/{patient_id}").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(counted)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (CPUs)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: gunicorn.conf.py's)")
    args = parser.parse_args()

    app = create_app()
    began = time.perf_counter()
    patient_id = build(app, args.patients)
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
    print(f"data: {args.patients} patients (each a referral, a consultation, a message) and one with 500 history "
          f"entries, on {database} ({time.perf_counter() - began:.1f} s to load)")
    print(f"SQL statements per record page (in process): {statements_per_page(app, patient_id)}")
    env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"])
    server = Gunicorn(env, workers=args.workers, threads=args.threads, log_path=Path(INSTANCE) / "gunicorn.log")
    print(f"machine: {os.cpu_count()} CPUs; server: {server.describe()}; wrk on the same machine, 4 connections, "
          f"{args.seconds} s each")
    server.start()
    try:
        cookie = sign_in(server.url)
        page = requests.get(f"{server.url}/patients/{patient_id}", headers=cookie, timeout=10)
        assert page.status_code == 200 and page.text.count('class="history-entry') == 50, page.status_code
        hello = with_cpu(server, lambda: run_wrk(f"{server.url}/healthz", connections=4, seconds=args.seconds))
        record = with_cpu(server, lambda: run_wrk(f"{server.url}/patients/{patient_id}", connections=4,
                                                  seconds=args.seconds, headers=cookie))
        older = with_cpu(server, lambda: run_wrk(
            f"{server.url}/patients/{patient_id}?page=5", connections=4, seconds=args.seconds,
            headers=dict(cookie, **{"HX-Request": "true", "HX-Target": "history-more"})))
        for name, r in (("GET /healthz (hello world)", hello), (f"GET /patients/{patient_id} (record, 50 newest)",
                                                                record),
                        ("GET ...?page=5 (htmx: older entries)", older)):
            ratio = r["server_cpu_ms_per_req"] / hello["server_cpu_ms_per_req"]
            print(f"{name}: {wrk_line(r)}; server CPU {r['server_cpu_ms_per_req']:.2f} ms/request "
                  f"= {ratio:.1f} x hello world; load generator {r['loadgen_cpu']:.2f} cores, "
                  f"other work {r['other_cpu']:.2f} cores")
            if r["errors"]:
                print(f"WARNING: {r['errors']} answers were not 200 ({r['other_codes']}); these figures are not valid")
    finally:
        server.stop()
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis(INSTANCE)


if __name__ == "__main__":
    main()
