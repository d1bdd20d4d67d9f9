"""What one request costs the server, next to hello-world measured in the same worker and run: SQL
statements, commits and CPU milliseconds per request on each hot path, and the ratio of its CPU to
hello-world's.

    .venv/bin/python bench/request_cost.py [--consultations 100000] [--referrals 10000]
        [--care-requests 100000] [--slots 100000] [--repeat 200]
    .venv/bin/python bench/request_cost.py --profile doctor-queue             # pyinstrument, under gunicorn
    .venv/bin/python bench/request_cost.py --profile doctor-queue --cprofile  # cProfile, by own time
    .venv/bin/python bench/request_cost.py --sql doctor-queue                 # the SQL of one request

One gunicorn worker serves everything, with the production settings (gunicorn.conf.py: gthread, its
threads, request logs, the collector's view of the loaded app frozen) and a thin counting layer
(bench/cost_conf.py) that sends each request's SQL statements and commits back in headers. One client
sends the requests one after another on a keep-alive connection, and reads the worker's own CPU clock
(all its threads, to the nanosecond) before and after each: CPU per request is the server's, not the
client's, and the load of the rest of the machine does not add waiting to it. Paths and hello-world take
turns in interleaved rounds, so a busy moment weighs on all of them alike.

Paths (the issue's seven, then two for information):
  secretary-queue   GET /queue, the secretary's screening queue (first page, audited read)
  doctor-queue      GET /consultations, the doctor's queue (first page, audited read)
  chat-post         the doctor posts a chat message (HTMX POST; the answer carries it back)
  chat-poll         the patient's poll that fetches that message (audited read)
  partner-list      GET /partner/care-requests as a partner user (first page, audited read)
  slot-search       FHIR GET /Slot for one service and week with every _include (bearer token)
  webhook-intake    POST /api/referrals, a NEW signed referral each time (new patient)
  chat-poll-same    a poll when nothing changed (the common case: 204 from one Redis GET)
  hello-world       GET /healthz through the same worker, hooks and all: the floor

The last line is `worst CPU ratio to hello-world: X.X (path)` over the seven. SQLite in a temporary
folder by default; DATABASE_URL for PostgreSQL (an EMPTY database of yours: the schema is replaced).
With --compare CHECKOUT a second worker serves that checkout's code (git worktree add /tmp/before main)
on the same data, each with its own hello-world, in the same interleaved rounds: before/after in one run.
"""

import argparse
import itertools
import json
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("PORTAL_ENV", "development")
import consultations as consultation_bench  # noqa: E402  (sets the bench's INSTANCE_PATH first)
import partners as partner_bench  # noqa: E402
import slots as slot_bench  # noqa: E402

# As production runs: every request writes its JSON log line (to the bench's gunicorn.log), and the rate
# limiter is on (none of the measured routes is limited for this traffic). The benches above turn both off.
os.environ.update(LOG_LEVEL="INFO", LOG_FORMAT="json", RATELIMIT_ENABLED="1")

from harness import Browser, Gunicorn, process_cpu_seconds, worker_pids  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.partners.models import Partner, PartnerUser  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402

HX = {"HX-Request": "true"}
SECRETARY = "bench-secretary@example.org"
CONF = Path(__file__).resolve().parent / "cost_conf.py"
# The paths the target is over; the others are printed for information.
TARGET_PATHS = ("secretary-queue", "doctor-queue", "chat-post", "chat-poll", "partner-list", "slot-search",
                "webhook-intake")
ROUNDS = 5


# --------------------------------------------------------------------------- data


def load_referrals(app, count: int, rng: random.Random) -> None:
    """`count` open referrals awaiting screening, each with its own patient, and a secretary."""
    from portal.patients.models import Patient
    from portal.referrals.models import AWAITING, Referral
    from portal.sandbox.referral_system import random_fodselsnummer
    from portal.security.crypto import blind_index
    from portal.security.staff_users import create_or_update_user

    with app.app_context():
        create_or_update_user(SECRETARY, consultation_bench.PASSWORD, "secretary", "Bench Secretary")
        fnr = random_fodselsnummer(rng)  # sealed by the column type on insert
        now = datetime.utcnow()
        for first in range(0, count, 5000):
            ids = range(first, min(first + 5000, count))
            patient_ids = db.session.execute(insert(Patient).returning(Patient.id, sort_by_parameter_order=True), [
                {"first_name": "Ref", "last_name": f"Bench{i}", "national_id": fnr, "national_id_kind": "fnr",
                 "national_id_index": blind_index("patient.national_id", f"bench-referral-{i}"),
                 "phone": f"+4791{i:06d}", "phone_needs_check": False, "from_insurer_referral": True,
                 "marketing_allowed": False, "created_at": now} for i in ids]).scalars().all()
            rows = []
            for i, patient_id in zip(ids, patient_ids):
                payload = json.dumps({"JournalGuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "n": i},
                                     sort_keys=True)
                rows.append({"journal_guid": json.loads(payload)["JournalGuid"], "patient_id": patient_id,
                             "format_id": "http://ehelse.no/xmlstds/henvisning/2017-11-30",
                             "message_timestamp": now - timedelta(seconds=i), "payload": payload,
                             "payload_fingerprint": blind_index("referral.payload", payload),
                             "phone_needs_check": False, "status": AWAITING,
                             "received_at": now - timedelta(seconds=i), "call_attempt_count": 0})
            db.session.execute(insert(Referral), rows)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def build(app, args) -> list:
    rng = random.Random(17)
    _, links = consultation_bench.build(app, args.consultations, 1)  # migrates (and empties PostgreSQL) first
    load_referrals(app, args.referrals, rng)
    partner_bench.load(app, args.care_requests, 100, 20, "http://127.0.0.1:1")
    slot_bench.load(app, args.slots, 20, 2)
    return links


# --------------------------------------------------------------------------- signed-in browsers


def signed_in_staff(url: str, email: str) -> Browser:
    browser = Browser(url)
    page = browser.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = browser.post("/login", form={"email": email, "password": consultation_bench.PASSWORD, "csrf_token": token})
    assert r.status == 302, r.status
    return browser


def signed_in_patient(url: str, raw: str, birth: str) -> Browser:
    browser = Browser(url)
    page = browser.get(f"/c/{raw}").text
    r = browser.post(f"/c/{raw}", form={"csrf_token": consultation_bench.csrf_of(page), "last_name": "Bench",
                                         "birth_date": birth})
    assert r.status == 302, r.status
    return browser


def signed_in_partner(app, url: str) -> Browser:
    """As the OIDC callback leaves it (that flow has its own tests and bench): a session begun for the
    partner user, its record in the shared Redis, its cookie in the browser."""
    from flask import session

    from portal.security import sessions

    browser = Browser(url)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers=browser.headers):
        partner_id = db.session.scalar(select(Partner.id).where(Partner.tenant == partner_bench.BENCH_TENANT))
        user = db.session.scalar(select(PartnerUser).where(PartnerUser.partner_id == partner_id))
        sessions.begin(user)
        browser.cookies[app.config["SESSION_COOKIE_NAME"]] = \
            app.session_interface.get_signing_serializer(app).dumps(dict(session))
    assert browser.get("/partner/care-requests").status == 200
    return browser


def slot_query(app, url: str) -> tuple[str, dict]:
    """The NHS Booking API page's slot search (bench/slots.py's), and a bearer token for it."""
    from base64 import b64encode

    from portal.fhir import oauth
    from portal.scheduling.models import HealthcareService

    with app.app_context():
        created, secret = oauth.create_api_client(name="request-cost", scopes=list(oauth.SCOPES))
        service_id = db.session.scalar(select(HealthcareService.id).where(HealthcareService.name == "Service 10"))
        client_id = created.client_id
    basic = b64encode(f"{client_id}:{secret}".encode()).decode()
    answer = Browser(url).post("/oauth/token", form={"grant_type": "client_credentials"},
                               headers={"Authorization": f"Basic {basic}"})
    token = json.loads(answer.body)["access_token"]
    week = slot_bench.FIRST_DAY + timedelta(weeks=1)
    query = (f"/fhir/stu3/Slot?schedule.actor:healthcareservice={service_id}"
             f"&start=ge{week.isoformat()}T00:00:00%2B00:00"
             f"&start=le{(week + timedelta(days=6)).isoformat()}T23:59:59%2B00:00"
             "&status=free&_include=Slot:schedule&_include:iterate=Schedule:actor:Practitioner"
             "&_include:iterate=Schedule:actor:PractitionerRole&_include:iterate=Schedule:actor:HealthcareService"
             "&_include:iterate=HealthcareService:Organization&_include:iterate=HealthcareService:location"
             "&_format=json")
    return query, {"Authorization": f"Bearer {token}"}


def paths(app, url: str, links) -> dict:
    """name -> (request, untimed step before it or None, expected status)."""
    from portal.sandbox.referral_system import random_referral, signed_request

    doctor = signed_in_staff(url, "bench-doctor@example.org")
    secretary = signed_in_staff(url, SECRETARY)
    cid, raw, birth = links[0]
    patient = signed_in_patient(url, raw, birth)
    partner = signed_in_partner(app, url)
    machine = Browser(url, user_agent="referral-system/1")
    anonymous = Browser(url)
    doctor_page = doctor.get(f"/consultations/{cid}").text
    doctor_token = re.search(r'name="chat_token" value="([^"]+)"', doctor_page).group(1)
    doctor_csrf = consultation_bench.csrf_of(doctor_page)
    # Each page's place in the conversation (change counter, last message), moved on by every answer.
    patient_at = {"cursor": (-2, 0)}
    doctor_at = {"cursor": consultation_bench.chat_cursor(doctor_page)}
    numbers = itertools.count()
    slot_url, bearer = slot_query(app, url)
    secret = app.config["REFERRAL_WEBHOOK_SECRET"]
    rng = random.Random(1)
    referral = {}

    def poll(headers=None):
        since, after = patient_at["cursor"]
        r = patient.get(f"/c/room/chat?since={since}&after={after}", headers={**HX, **(headers or {})})
        if r.status == 200:
            patient_at["cursor"] = consultation_bench.chat_cursor(r.text)
        return r

    def post(headers=None):
        r = doctor.post(f"/consultations/{cid}/chat", headers={**HX, **(headers or {})}, form={
            "csrf_token": doctor_csrf, "chat_token": doctor_token, "message": f"message {next(numbers)}",
            "after": doctor_at["cursor"][1]})
        if r.status == 200:
            doctor_at["cursor"] = consultation_bench.chat_cursor(r.text)
        return r

    def sign_referral():
        # A new referral of a new patient (most referrals are), signed as the referral system signs it.
        referral["body"], referral["headers"] = signed_request(secret, random_referral(rng))

    def intake(headers=None):
        return machine.post("/api/referrals", body=referral["body"], headers={**referral["headers"], **(headers or {})})

    poll()
    return {
        "secretary-queue": (lambda headers=None: secretary.get("/queue", headers), None, 200),
        "doctor-queue": (lambda headers=None: doctor.get("/consultations", headers), None, 200),
        "chat-post": (post, poll, 200),
        "chat-poll": (poll, post, 200),
        "partner-list": (lambda headers=None: partner.get("/partner/care-requests", headers), None, 200),
        "slot-search": (lambda headers=None: machine.get(slot_url, {**bearer, **(headers or {})}), None, 200),
        "webhook-intake": (intake, sign_referral, 201),
        "chat-poll-same": (poll, None, 204),
        "hello-world": (lambda headers=None: anonymous.get("/healthz", headers), None, 200),
    }


# --------------------------------------------------------------------------- measuring


def measure(worker: int, request, before, status: int, repeat: int, into: dict | None = None,
            headers: dict | None = None) -> dict:
    """`repeat` requests; the worker's CPU around each, and the SQL it reported."""
    into = into if into is not None else {"cpu": [], "statements": [], "commits": []}
    for _ in range(repeat):
        if before:
            before()
        began = process_cpu_seconds(worker)
        r = request(headers) if headers else request()
        into["cpu"].append((process_cpu_seconds(worker) - began) * 1000)
        assert r.status == status, (r.status, r.text[:300])
        into["statements"].append(int(r.headers["X-Bench-Statements"]))
        into["commits"].append(int(r.headers["X-Bench-Commits"]))
    return into


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consultations", type=int, default=100_000, help="open consultations (doctor queue)")
    parser.add_argument("--referrals", type=int, default=10_000, help="open referrals (secretary queue)")
    parser.add_argument("--care-requests", type=int, default=100_000, help="over 100 partners (partner list)")
    parser.add_argument("--slots", type=int, default=100_000, help="over 20 services (slot search)")
    parser.add_argument("--repeat", type=int, default=200, help="requests per path, in %d rounds" % ROUNDS)
    parser.add_argument("--profile", metavar="PATH", help="print a profile of this path (pyinstrument) instead")
    parser.add_argument("--cprofile", action="store_true", help="with --profile: cProfile instead of pyinstrument")
    parser.add_argument("--sql", metavar="PATH", help="print the SQL statements of one request of this path")
    parser.add_argument("--compare", metavar="CHECKOUT",
                        help="also serve another checkout's code (a worktree of main) in the same run: before/after")
    args = parser.parse_args()

    app = create_app()
    began = time.perf_counter()
    links = build(app, args)
    instance = Path(app.config["INSTANCE_PATH"])
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(f"data: {args.consultations} open consultations, {args.referrals} open referrals, {args.care_requests} "
          f"care requests over 100 partners, {args.slots} slots, on {database} "
          f"({time.perf_counter() - began:.0f} s to load)")
    env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"], BENCH_SQL_LOG=str(instance / "sql.log"))
    if args.profile:
        env["BENCH_PROFILE"] = "cprofile" if args.cprofile else "pyinstrument"
    servers = {"this": Gunicorn(env, workers=1, config=CONF, log_path=instance / "gunicorn.log")}
    if args.compare:
        # The other checkout's code on the same data, Redis and secrets, measured in the same rounds.
        other = Path(args.compare).resolve()
        servers = {"before": Gunicorn(dict(env, PYTHONPATH=str(other)), workers=1, config=CONF, root=other,
                                      log_path=instance / "gunicorn-before.log"), "after": servers["this"]}
    try:
        chosen, workers = {}, {}
        for label, server in servers.items():
            server.start()
            workers[label] = worker_pids(server.pid)[0]
            print(f"{label}: {server.root}; {server.describe()}, bench/cost_conf.py; one client, keep-alive")
            chosen[label] = paths(app, server.url, links)
            for request, before, status in chosen[label].values():
                measure(workers[label], request, before, status, 20)  # warm caches and the connection pool
        label = list(servers)[-1]
        if args.sql:
            request, before, status = chosen[label][args.sql]
            measure(workers[label], request, before, status, 1, headers={"X-Bench-Sql": "1"})
            print((instance / "sql.log").read_text())
            return
        if args.profile:
            request, before, status = chosen[label][args.profile]
            measure(workers[label], request, before, status, args.repeat, headers={"X-Bench-Profile": "1"})
            print(Browser(servers[label].url).get("/__bench/profile").text)
            return
        # Rounds: every path of every server, hello-world included, gets a share of each stretch of the run.
        results = {label: {name: None for name in chosen[label]} for label in servers}
        per_round = max(1, args.repeat // ROUNDS)
        for _ in range(ROUNDS):
            for label in servers:
                for name, (request, before, status) in chosen[label].items():
                    results[label][name] = measure(workers[label], request, before, status, per_round,
                                                   results[label][name])
        print(f"machine: {os.cpu_count()} CPUs, load average {'%.2f %.2f %.2f' % os.getloadavg()}; "
              f"{per_round * ROUNDS} requests per path in {ROUNDS} interleaved rounds; medians of the worker's CPU "
              f"per request")
        for label in servers:
            report(label if args.compare else None, results[label])
    finally:
        for server in servers.values():
            server.stop()
        stop_embedded_redis(app.config["INSTANCE_PATH"])


def report(label: str | None, results: dict) -> None:
    hello = statistics.median(results["hello-world"]["cpu"])
    print(f"\n{label or ''}")
    print(f"{'path':<16} {'SQL':>4} {'commits':>8} {'CPU ms':>7} {'x hello':>8}")
    for name, r in results.items():
        cpu = statistics.median(r["cpu"])
        print(f"{name:<16} {max(r['statements']):>4} {max(r['commits']):>8} {cpu:>7.2f} {cpu / hello:>8.1f}")
    worst = max(TARGET_PATHS, key=lambda name: statistics.median(results[name]["cpu"]))
    print(f"{label + ': ' if label else ''}worst CPU ratio to hello-world: "
          f"{statistics.median(results[worst]['cpu']) / hello:.1f} ({worst})")


if __name__ == "__main__":
    main()
