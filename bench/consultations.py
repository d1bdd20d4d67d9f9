"""Benchmark: the doctors' queue with 100k consultations, and chat round trips in 50 conversations.

Prints figures; never passes or fails on time. Everything runs on loopback in a fresh temporary
instance (SQLite by default; DATABASE_URL for PostgreSQL, whose schema it replaces):

  .venv/bin/python bench/consultations.py [--consultations 100000] [--conversations 50] [--messages 20]

1. Queue: 100k open consultations (the worst case: every one counted and ordered); gunicorn with
   one worker per CPU and gunicorn.conf.py's threads (--workers/--threads); wrk with 4 connections for 15 s
   on GET /consultations (first page of 25,
   the total count, the change counter, and the audit event every read writes).
2. Chat round trip: 50 started consultations, one doctor and 50 patient sessions, all 50
   conversations at once. In each, in turn, one side posts a message (HTMX POST) and the other
   side's poll (GET …/chat?since=N&after=M, as the page sends it) fetches it; round trip = from starting
   the send to the other side holding the message (send + one poll that returns it). Between
   messages each side pauses 0.2–1 s (reading, typing). Browsers poll every second, which adds
   up to one second of waiting on top; this measures the server's part of the path.
"""

import argparse
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("PORTAL_ENV", "development")  # generated secrets, embedded Redis: also on PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
INSTANCE = tempfile.mkdtemp(prefix="care-portal-bench-")
# The bench doctor signs in with the password only (two-factor has its own tests; it is not what is measured).
os.environ.update(INSTANCE_PATH=INSTANCE, RATELIMIT_ENABLED="0", SESSION_IDLE_MINUTES="120", LOG_LEVEL="WARNING",
                  TWO_FACTOR_REQUIRED_ROLES="")

import requests  # noqa: E402
from harness import Gunicorn, csrf_field, fresh_schema, percentile, run_wrk, with_cpu  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.consultations import services  # noqa: E402
from portal.consultations.models import ChatRoom, Consultation  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.patients.models import Patient  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402
from portal.security.models import utcnow  # noqa: E402

PASSWORD = "bench-password-1"


def build(app, consultations: int, conversations: int):
    from portal.security.staff_users import create_or_update_user

    with app.app_context():
        fresh_schema(app)
        doctor = create_or_update_user("bench-doctor@example.org", PASSWORD, "doctor", "Dr. Bench")
        now = utcnow()
        db.session.execute(insert(Patient), [
            {"first_name": f"P{i}", "last_name": "Bench", "birth_date": date(1980, 1, 1) + timedelta(days=i),
             "phone": f"+4790{i:06d}", "phone_needs_check": False, "from_insurer_referral": True,
             "marketing_allowed": False, "created_at": now} for i in range(1000)])
        patient_ids = [row[0] for row in db.session.execute(text("SELECT id FROM patients ORDER BY id"))]
        batch = []
        for i in range(consultations):
            batch.append({"code": f"B{i:07d}", "patient_id": patient_ids[i % len(patient_ids)], "source": "referral",
                          "state": "ready_for_pickup", "category": "insurance", "enabled_channels": ["CHAT"],
                          "primary_channel": "CHAT", "options": {}, "created_at": now - timedelta(seconds=i)})
            if len(batch) == 10000:
                db.session.execute(insert(Consultation), batch)
                batch = []
        if batch:
            db.session.execute(insert(Consultation), batch)
        db.session.commit()
        # The conversations: started consultations with a chat room (as the chat key service would make).
        links = []
        for n in range(conversations):
            consultation = services.create_consultation(patient_id=patient_ids[n], source="referral",
                                                        enabled_channels=["CHAT"], primary_channel="CHAT")
            consultation.state, consultation.service_provider_id = "in_progress", doctor.id
            consultation.assigned_at = consultation.starts_at = utcnow()
            db.session.flush()
            db.session.add(ChatRoom(consultation_id=consultation.id, external_id=secrets.token_hex(8),
                                    shared_secret_id=secrets.token_hex(8), shared_secret=secrets.token_urlsafe(32)))
            links.append((consultation.id, services.create_patient_link(consultation),
                          (date(1980, 1, 1) + timedelta(days=n)).isoformat()))
        db.session.commit()
        return doctor.id, links


def csrf_of(html: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def sign_in(base: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/login").text
    token = csrf_field(page)
    r = s.post(f"{base}/login", data={"email": "bench-doctor@example.org", "password": PASSWORD, "csrf_token": token},
               allow_redirects=False)
    assert r.status_code == 302, r.status_code
    return s


def queue_bench(base: str, doctor: requests.Session, seconds: int) -> dict:
    cookie = "; ".join(f"{k}={v}" for k, v in doctor.cookies.items())
    return run_wrk(f"{base}/consultations", connections=4, seconds=seconds, headers={"Cookie": cookie})


def chat_bench(base: str, links, messages: int) -> list[float]:
    doctor = sign_in(base)
    conversations = []
    for cid, raw, birth in links:
        patient = requests.Session()
        page = patient.get(f"{base}/c/{raw}").text
        r = patient.post(f"{base}/c/{raw}", data={"csrf_token": csrf_of(page), "last_name": "Bench",
                                                   "birth_date": birth}, allow_redirects=False)
        assert r.status_code == 302, r.text
        room = patient.get(f"{base}/c/room").text
        patient_token = re.search(r'name="chat_token" value="([^"]+)"', room).group(1)
        doctor_page = doctor.get(f"{base}/consultations/{cid}").text
        doctor_token = re.search(r'name="chat_token" value="([^"]+)"', doctor_page).group(1)
        conversations.append({"cid": cid, "patient": patient, "patient_csrf": csrf_of(room),
                              "patient_token": patient_token, "doctor_csrf": csrf_of(doctor_page),
                              "doctor_token": doctor_token})
    trips: list[float] = []
    lock = threading.Lock()
    hx = {"HX-Request": "true"}

    def converse(conv):
        # One requests.Session per thread for the doctor: same cookie, its own connection pool.
        doc = requests.Session()
        doc.cookies.update(doctor.cookies)
        mine = []
        patient_url = f"{base}/c/room/chat"
        doctor_url = f"{base}/consultations/{conv['cid']}/chat"
        # Each side's place in the conversation, as its page keeps it: the change counter it saw and
        # its last message. Polls send both; a send takes `after` along and moves the sender's on.
        cursor = {patient_url: (-2, 0), doctor_url: (-2, 0)}

        def moved(url, r):
            if r.status_code == 200:
                cursor[url] = chat_cursor(r.text)

        def poll_until(session, url, body):
            # Like the page's poller, but back to back with a 5 ms pause instead of every second.
            while True:
                since, after = cursor[url]
                r = session.get(f"{url}?since={since}&after={after}", headers=hx)
                moved(url, r)
                if r.status_code == 200 and body in r.text:
                    return
                time.sleep(0.005)

        poll_until(conv["patient"], patient_url, "")
        poll_until(doc, doctor_url, "")
        # Conversations do not all begin in the same millisecond: the first message, like every
        # other, comes after a pause for reading and typing.
        time.sleep(random.uniform(0.2, 1.0))
        for n in range(messages):
            from_doctor = n % 2 == 0
            body = f"message {n} in {conv['cid']} {secrets.token_hex(4)}"
            started = time.perf_counter()
            if from_doctor:
                r = doc.post(f"{base}/consultations/{conv['cid']}/chat", headers=hx,
                             data={"csrf_token": conv["doctor_csrf"], "chat_token": conv["doctor_token"],
                                   "message": body, "after": cursor[doctor_url][1]})
                moved(doctor_url, r)
                poll, url = conv["patient"], patient_url
            else:
                r = conv["patient"].post(f"{base}/c/room/chat", headers=hx,
                                         data={"csrf_token": conv["patient_csrf"], "chat_token": conv["patient_token"],
                                               "message": body, "after": cursor[patient_url][1]})
                moved(patient_url, r)
                poll, url = doc, doctor_url
            assert r.status_code == 200, r.text[:300]
            poll_until(poll, url, body)
            mine.append((time.perf_counter() - started) * 1000)
            time.sleep(random.uniform(0.2, 1.0))  # the other person reads and types
        with lock:
            trips.extend(mine)

    threads = [threading.Thread(target=converse, args=(c,)) for c in conversations]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return trips


def chat_cursor(answer: str) -> tuple[int, int]:
    """The (since, after) of the chat cursor in a page or chat answer, as its poller will send them."""
    found = re.search(r"since=(-?\d+)&(?:amp;)?after=(\d+)", answer)
    return int(found.group(1)), int(found.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consultations", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=15)
    # One worker per CPU: 4 x 8 on 2 CPUs measured a worse p99 and more CPU per request (docs/architecture.md).
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (CPUs)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per gunicorn worker (default: gunicorn.conf.py's)")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    args = parser.parse_args()

    app = create_app()
    started = time.perf_counter()
    _, links = build(app, args.consultations, args.conversations)
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
    env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"])
    server = Gunicorn(env, workers=args.workers, threads=args.threads, port=args.port or None,
                      log_path=Path(INSTANCE) / "gunicorn.log")
    print(f"machine: {os.cpu_count()} CPUs; server: {server.describe()}; client on the same machine")
    print(f"data: {args.consultations} open consultations + {args.conversations} started, on {database} "
          f"({time.perf_counter() - started:.1f} s to load)")
    server.start()
    base = server.url
    try:
        doctor = sign_in(base)
        q = with_cpu(server, lambda: queue_bench(base, doctor, args.seconds))
        print(f"doctor queue GET /consultations, wrk 4 connections {args.seconds} s: p50 {q['p50_ms']:.1f} ms, "
              f"p90 {q['p90_ms']:.1f} ms, p99 {q['p99_ms']:.1f} ms, {q['rps']:.0f} req/s, non-200 {q['errors']}; "
              f"server CPU {q['server_cpu_ms_per_req']:.1f} ms/request, load generator {q['loadgen_cpu']:.2f} cores, "
              f"other work {q['other_cpu']:.2f} cores "
              f"(target p99 <= 30 ms)")
        if q["errors"]:
            print("WARNING: the queue answered errors; the figures above are not valid")
        cpu0 = server.cpu_seconds()
        trips = chat_bench(base, links, args.messages)
        chat_cpu = (server.cpu_seconds() - cpu0) * 1000 / len(trips)
        print(f"chat round trip, {args.conversations} concurrent conversations x {args.messages} messages: "
              f"p50 {statistics.median(trips):.1f} ms, p99 {percentile(trips, 99):.1f} ms, max {max(trips):.1f} ms, "
              f"n={len(trips)}; server CPU {chat_cpu:.1f} ms per message (sign-in, send and polls) "
              "(target p99 <= 150 ms)")
    finally:
        server.stop()
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis(INSTANCE)


if __name__ == "__main__":
    main()
