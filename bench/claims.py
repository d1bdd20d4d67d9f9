"""Travel-claim filing throughput: N claims due now, 4 worker processes, the sandbox claims API, with the
status follower running alongside.

    .venv/bin/python bench/claims.py                   # 10,000 claims, SQLite in a temporary folder
    .venv/bin/python bench/claims.py --claims 500      # a short smoke run
    DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/claims.py   # an EMPTY database of yours

Bulk-inserts patients, appointments and `not_queued` claims with SQLAlchemy Core (fixture rows, like
bench/slots.py; real bookings go through `book_slot`), serves the sandbox with gunicorn (one process,
so its in-memory counters are whole), queues every claim with the sweep, then starts the workers
(`flask worker --simple --queues claims`: RQ's SimpleWorker runs jobs in the worker process instead of
forking one per job) and waits until every claim is filed. The status follower runs in the same workers
every --follow-every seconds and asks about each filed claim that often; the sandbox decides a claim
--decide-after seconds after filing, so decisions (and their texts in the outbox) happen during the run.
Prints claims/s, the follower's status checks and decisions, and the sandbox's filings, replays and
duplicates (duplicates must be 0). Prints figures; never passes or fails.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("PORTAL_ENV", "development")  # generated secrets, embedded Redis: also on PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="care-portal-bench-")
os.environ.setdefault("RATELIMIT_ENABLED", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import requests  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from harness import free_port  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.patients.models import Patient  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402
from portal.scheduling.models import Appointment, HealthcareService, Location, Schedule, Slot  # noqa: E402
from portal.security.models import utcnow  # noqa: E402
from portal.travel_pay.agreement import current_agreement  # noqa: E402
from portal.travel_pay.models import DECIDED, FILED, TravelClaim  # noqa: E402

BIN = Path(sys.executable).parent


def seed(count: int) -> None:
    """`count` patients, each with an appointment an hour ago and a claim due now."""
    service_id = db.session.execute(insert(HealthcareService).values(name="Bench", organisation_code="BENCH")
                                    .returning(HealthcareService.id)).scalar_one()
    location_id = db.session.execute(insert(Location).values(name="Bench clinic", travel_pay_enabled=True)
                                     .returning(Location.id)).scalar_one()
    schedule_id = db.session.execute(insert(Schedule).values(name="Bench", healthcare_service_id=service_id,
                                                             location_id=location_id, timezone="Europe/London",
                                                             active=True).returning(Schedule.id)).scalar_one()
    db.session.commit()
    now = utcnow().replace(microsecond=0)
    agreement = current_agreement("en")
    for first in range(0, count, 2000):
        ids = range(first, min(first + 2000, count))
        patients = db.session.execute(insert(Patient).returning(Patient.id, sort_by_parameter_order=True), [
            {"first_name": "Bench", "last_name": f"Patient{i}", "phone": f"+4790{i:06d}",
             "from_insurer_referral": False, "marketing_allowed": False, "phone_needs_check": False}
            for i in ids]).scalars().all()
        starts = [now - timedelta(hours=1) - timedelta(seconds=i) for i in ids]
        slots = db.session.execute(insert(Slot).returning(Slot.id, sort_by_parameter_order=True), [
            {"schedule_id": schedule_id, "healthcare_service_id": service_id, "start": s,
             "end": s + timedelta(minutes=15), "status": "busy", "version": 1} for s in starts]).scalars().all()
        appointments = db.session.execute(insert(Appointment).returning(Appointment.id, sort_by_parameter_order=True), [
            {"slot_id": slot, "active_slot_id": slot, "patient_id": patient, "status": "booked", "start": s,
             "end": s + timedelta(minutes=15), "booked_by": "bench", "created_at": now, "version": 1}
            for slot, patient, s in zip(slots, patients, starts)]).scalars().all()
        db.session.execute(insert(TravelClaim), [
            {"patient_id": patient, "appointment_id": appointment, "appointment_date": s.date(),
             "answers": {"mileage_only": True, "own_vehicle": True, "home_address": True}, "status": "not_queued",
             "attempts": 0, "max_attempts": 5, "next_attempt_at": now, "idempotency_key": uuid.uuid4().hex,
             "created_at": now, "updated_at": now, "agreement_version": agreement.version,
             "agreement_language": agreement.language, "agreement_text": agreement.as_text(), "agreed_at": now}
            for patient, appointment, s in zip(patients, appointments, starts)])
        db.session.commit()


def start_sandbox(port: int) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "gunicorn"), "--workers", "1", "--worker-class", "gthread", "--threads", "16",
                             # Never recycled: its counters of filings and duplicates live in this one process.
                             "--max-requests", "0",
                             "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--access-logfile", "/dev/null",
                             "portal.sandbox:create_app(smtp_port=0)"], cwd=ROOT, start_new_session=True)


def wait_healthy(url: str) -> None:
    for _ in range(200):
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("the sandbox did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=600, help="give up after this many seconds")
    parser.add_argument("--follow-every", type=int, default=5,
                        help="the status follower's period and each claim's interval between status checks (s)")
    parser.add_argument("--decide-after", type=float, default=10,
                        help="the sandbox decides a claim this long after filing (s)")
    args = parser.parse_args()

    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    os.environ["SANDBOX_URL"] = sandbox_url
    app = create_app()
    processes = []
    try:
        with app.app_context():
            upgrade()
            started = time.monotonic()
            seed(args.claims)
            print(f"seeded {args.claims} claims in {time.monotonic() - started:.1f} s")
            env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"],
                       TRAVEL_CLAIM_STATUS_EVERY_SECONDS=str(args.follow_every),
                       TRAVEL_CLAIM_STATUS_SWEEP_SECONDS=str(args.follow_every))
            processes.append(start_sandbox(port))
            wait_healthy(sandbox_url)
            requests.post(f"{sandbox_url}/travel/mode", timeout=10,
                          json={"mode": "succeed", "decide_after_seconds": args.decide_after}).raise_for_status()
            from portal.travel_pay.services import sweep_travel_claims

            started = time.monotonic()
            swept = sweep_travel_claims(batch=args.claims)
            print(f"queued {swept['queued']} claims in {time.monotonic() - started:.1f} s")

            started = time.monotonic()
            for _ in range(args.workers):
                processes.append(subprocess.Popen(
                    [str(BIN / "flask"), "--app", "wsgi", "worker", "--simple", "--queues", "claims"], cwd=ROOT,
                    env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            first_filed, filed = None, 0
            while filed < args.claims and time.monotonic() - started < args.timeout:
                time.sleep(0.25)
                filed = db.session.scalar(select(func.count()).select_from(TravelClaim)
                                          .where(TravelClaim.status.in_((FILED, DECIDED))))
                db.session.commit()
                if filed and first_filed is None:
                    first_filed = (time.monotonic(), filed)
            elapsed = time.monotonic() - started
            counters = requests.get(f"{sandbox_url}/travel/counters", timeout=10).json()
            decided = db.session.scalar(select(func.count()).select_from(TravelClaim)
                                        .where(TravelClaim.status == DECIDED))
            db.session.commit()
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis(app.config["INSTANCE_PATH"])

    steady = (filed - first_filed[1]) / (time.monotonic() - first_filed[0]) if first_filed else 0
    database = "PostgreSQL" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else "SQLite"
    print(f"{database}, {args.workers} SimpleWorkers, sandbox under gunicorn (1 process, 16 threads)")
    print(f"filed {filed} of {args.claims} in {elapsed:.1f} s (worker start-up included): "
          f"{filed / elapsed:.0f} claims/s")
    print(f"after the first filing: {steady:.0f} claims/s")
    print(f"sandbox: filings {counters['filings']}, replays {counters['replays']}, "
          f"duplicates {counters['duplicates']}, tokens issued {counters['tokens_issued']}")
    print(f"status follower (every {args.follow_every} s, decisions {args.decide_after:g} s after filing): "
          f"{counters['status_checks']} status checks, {decided} claims decided during the run")


if __name__ == "__main__":
    main()
