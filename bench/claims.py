"""Travel-claim filing throughput: N claims due now, 4 worker processes, the sandbox claims API, with the
status follower running alongside.

    .venv/bin/python bench/claims.py                   # 10,000 claims, SQLite in a temporary folder
    .venv/bin/python bench/claims.py --claims 500      # a short smoke run
    DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/claims.py   # a database of yours: its schema is replaced

Bulk-inserts patients, appointments and `not_queued` claims with SQLAlchemy Core (fixture rows, like
bench/slots.py; real bookings go through `book_slot`), serves the sandbox with gunicorn (one process,
so its in-memory counters are whole), queues every claim with the sweep, then starts the workers
(`flask worker --simple --queues claims`: RQ's SimpleWorker runs jobs in the worker process instead of
forking one per job) and waits until every claim is filed. The status follower runs in the same workers
every --follow-every seconds and asks about each filed claim that often; the sandbox decides a claim
--decide-after seconds after filing, so decisions (and their texts in the outbox) happen during the run.
Prints claims/s (overall, and per worker once every worker is up), the follower's status checks and
decisions, the sandbox's filings, replays and duplicates (each claim must be filed exactly once), and the
hello-world floor measured first in the same run: as many no-op RQ jobs through the same workers and queue,
so the claims/hello ratio stays comparable on a noisy machine. Prints figures; never passes or fails.
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
# A fresh instance folder on either database: its embedded Redis must not hold an earlier run's jobs, paused
# claims or cached token (on PostgreSQL the schema is replaced, so claim ids and job ids start again at 1).
os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="care-portal-bench-")
os.environ.setdefault("RATELIMIT_ENABLED", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import requests  # noqa: E402
from harness import free_port, fresh_schema, machine_busy_seconds, process_cpu_seconds, worker_pids  # noqa: E402
from rq import Queue, Worker  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db, redis_client  # noqa: E402
from portal.patients.models import Patient  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402
from portal.scheduling.models import Appointment, HealthcareService, Location, Schedule, Slot  # noqa: E402
from portal.security.models import utcnow  # noqa: E402
from portal.travel_pay.agreement import current_agreement  # noqa: E402
from portal.travel_pay.models import DECIDED, FILED, TravelClaim  # noqa: E402
from portal.travel_pay.services import QUEUE_NAME, sweep_travel_claims  # noqa: E402

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
                             # No access log (gunicorn.conf.py has none): "--access-logfile /dev/null" still
                             # formatted a line per request, in the process that plays the claims API.
                             "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                             "portal.sandbox:create_app(smtp_port=0)"], cwd=ROOT, start_new_session=True)


def wait_healthy(url: str) -> None:
    for _ in range(200):
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("the sandbox did not start")


def start_workers(count: int, env: dict) -> list[subprocess.Popen]:
    # PYTHONPATH: the flask command imports the portal (its plugin command) before it puts the working folder
    # on the path, so without it the workers run whatever checkout the venv's editable install names.
    env = dict(env, PYTHONPATH=str(ROOT))
    return [subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "worker", "--simple", "--queues", "claims"],
                             cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process group, then SIGKILL what still runs after 30 s (a worker finishes its job first,
    and the follower's job may run for its whole budget)."""
    for process in reversed(processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    processes.clear()


def drain(count: int, workers: int, done_so_far, timeout: float) -> dict:
    """Poll `done_so_far()` until it reaches `count`. The steady rate counts from the moment every worker
    has registered with RQ (worker start-up staggers by seconds on a loaded machine), the overall rate
    from the start, start-up included."""
    connection = redis_client()
    started = time.monotonic()
    all_up, done = None, 0
    while done < count and time.monotonic() - started < timeout:
        time.sleep(0.1)
        done = done_so_far()
        if all_up is None and Worker.count(connection=connection) >= workers:
            all_up = (time.monotonic(), done)
    ended = time.monotonic()
    steady = (done - all_up[1]) / (ended - all_up[0]) if all_up and ended > all_up[0] else 0
    return {"done": done, "elapsed": ended - started, "overall": done / (ended - started), "steady": steady}


def hello_world(count: int, workers: int, env: dict, processes: list, timeout: float) -> dict:
    """The floor of the same setup: `count` jobs that do nothing (os.getpid) through the same workers and
    queue, with the claim job's result TTL. What a claim costs beyond RQ's own bookkeeping is the ratio."""
    queue = Queue(QUEUE_NAME, connection=redis_client())
    with redis_client().pipeline() as pipe:
        for first in range(0, count, 1000):
            queue.enqueue_many([Queue.prepare_data("os.getpid", result_ttl=60)
                                for _ in range(first, min(first + 1000, count))], pipeline=pipe)
            pipe.execute()
    processes.extend(start_workers(workers, env))
    figures = drain(count, workers, lambda: count - queue.count, timeout)
    stop(processes)  # the claims phase starts its workers the same way
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--hello", type=int, default=None, help="no-op jobs for the hello-world floor "
                        "(default: as many as claims; 0 skips it)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=600, help="give up after this many seconds")
    parser.add_argument("--follow-every", type=int, default=5,
                        help="the status follower's period and each claim's interval between status checks (s)")
    parser.add_argument("--decide-after", type=float, default=10,
                        help="the sandbox decides a claim this long after filing (s)")
    args = parser.parse_args()
    hello_jobs = args.claims if args.hello is None else args.hello

    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    os.environ["SANDBOX_URL"] = sandbox_url
    app = create_app()
    processes, workers = [], []
    hello = None
    try:
        with app.app_context():
            fresh_schema(app)  # on PostgreSQL: an earlier run's claims would be swept and filed too
            env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"],
                       TRAVEL_CLAIM_STATUS_EVERY_SECONDS=str(args.follow_every),
                       TRAVEL_CLAIM_STATUS_SWEEP_SECONDS=str(args.follow_every))
            processes.append(start_sandbox(port))
            wait_healthy(sandbox_url)
            if hello_jobs:  # before the claims are seeded: a starting worker sweeps due claims into the queue
                hello = hello_world(hello_jobs, args.workers, env, workers, args.timeout)
                print(f"hello world: {hello['done']} no-op jobs, {hello['steady']:.0f} jobs/s with every worker up")
            started = time.monotonic()
            seed(args.claims)
            print(f"seeded {args.claims} claims in {time.monotonic() - started:.1f} s")
            requests.post(f"{sandbox_url}/travel/mode", timeout=10,
                          json={"mode": "succeed", "decide_after_seconds": args.decide_after}).raise_for_status()
            started = time.monotonic()
            swept = sweep_travel_claims(batch=args.claims)
            print(f"queued {swept['queued']} claims in {time.monotonic() - started:.1f} s")

            sandbox_pids = [processes[0].pid, *worker_pids(processes[0].pid)]
            busy, sandbox_cpu = machine_busy_seconds(), sum(process_cpu_seconds(pid) for pid in sandbox_pids)
            workers.extend(start_workers(args.workers, env))

            def filed_so_far() -> int:
                filed = db.session.scalar(select(func.count()).select_from(TravelClaim)
                                          .where(TravelClaim.status.in_((FILED, DECIDED))))
                db.session.commit()
                return filed

            claims = drain(args.claims, args.workers, filed_so_far, args.timeout)
            # CPU of the claims phase: the workers' whole lives (start-up included), the sandbox's, and the
            # machine's (everything on it: PostgreSQL and Redis too, and anything else that ran meanwhile).
            cpu = {"workers": sum(process_cpu_seconds(worker.pid) for worker in workers),
                   "sandbox": sum(process_cpu_seconds(pid) for pid in sandbox_pids) - sandbox_cpu,
                   "machine": machine_busy_seconds() - busy}
            counters = requests.get(f"{sandbox_url}/travel/counters", timeout=10).json()
            decided = db.session.scalar(select(func.count()).select_from(TravelClaim)
                                        .where(TravelClaim.status == DECIDED))
            db.session.commit()
    finally:
        stop(workers)
        stop(processes)
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis(app.config["INSTANCE_PATH"])

    database = "PostgreSQL" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else "SQLite"
    print(f"{database}, {args.workers} SimpleWorkers; the sandbox claims API on this machine's CPUs, under gunicorn: "
          f"1 process, gthread worker with 16 threads, keep-alive (gunicorn.conf.py's 5 s), no access log; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"claims: filed {claims['done']} of {args.claims} in {claims['elapsed']:.1f} s (worker start-up "
          f"included): {claims['overall']:.0f} claims/s")
    print(f"claims with every worker up: {claims['steady']:.0f} claims/s, "
          f"{claims['steady'] / args.workers:.0f} per worker")
    done = max(claims["done"], 1)
    print(f"CPU per filed claim: workers {cpu['workers'] * 1000 / done:.2f} ms (their start-up included), "
          f"sandbox {cpu['sandbox'] * 1000 / done:.2f} ms, the whole machine {cpu['machine'] * 1000 / done:.2f} ms "
          f"(everything that ran on it meanwhile)")
    exactly_once = counters["filings"] == args.claims and counters["duplicates"] == 0
    print(f"sandbox: filings {counters['filings']}, replays {counters['replays']}, "
          f"duplicates {counters['duplicates']}, tokens issued {counters['tokens_issued']}; "
          f"each claim filed exactly once: {'yes' if exactly_once else 'NO'}")
    print(f"status follower (every {args.follow_every} s, decisions {args.decide_after:g} s after filing): "
          f"ran during the run: {'yes' if counters['status_checks'] else 'NO'}; {counters['status_checks']} status "
          f"checks in {counters.get('status_requests', 0)} requests, {decided} claims decided during the run")
    if hello:
        print(f"hello world (no-op RQ jobs, same workers and queue): {hello['done']} in {hello['elapsed']:.1f} s, "
              f"{hello['steady']:.0f} jobs/s with every worker up, {hello['steady'] / args.workers:.0f} per worker")
        print(f"claims/hello ratio: {claims['steady'] / hello['steady']:.3f}" if hello["steady"] else "")


if __name__ == "__main__":
    main()
