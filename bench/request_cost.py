"""What one request costs, in process, without HTTP or a second process sharing the CPUs: SQL
statements, commits and CPU milliseconds per request for the paths with latency targets. These
figures do not move when other work loads the machine, so they are the ones to compare A/B.

    .venv/bin/python bench/request_cost.py [--consultations 10000] [--care-requests 100000] [--repeat 200]
    .venv/bin/python bench/request_cost.py --profile queue      # pyinstrument tree for one path

Paths: queue (GET /consultations, first page), chat-post (doctor posts a message), chat-poll-new
(the patient's poll that fetches it), chat-poll-same (a poll when nothing changed, the common
case), partner-list (GET /partner/care-requests). SQLite by default; DATABASE_URL for PostgreSQL
(an EMPTY database of yours: the schema is replaced).
"""

import argparse
import itertools
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import consultations as consultation_bench  # noqa: E402  (sets the bench environment first)
import partners as partner_bench  # noqa: E402
from flask_login.utils import _create_identifier  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.partners.models import Partner, PartnerUser  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402

HX = {"HX-Request": "true"}


class Counter:
    def __init__(self, engine):
        self.statements = self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA")):
            self.statements += 1

    def _commit(self, conn):
        self.commits += 1


def signed_in_doctor(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"email": "bench-doctor@example.org", "password": consultation_bench.PASSWORD,
                                    "csrf_token": token})
    assert r.status_code == 302, r.status_code
    return client


def signed_in_patient(app, raw: str, birth: str):
    client = app.test_client()
    page = client.get(f"/c/{raw}").get_data(as_text=True)
    r = client.post(f"/c/{raw}", data={"csrf_token": consultation_bench.csrf_of(page), "last_name": "Bench",
                                        "birth_date": birth})
    assert r.status_code == 302, r.status_code
    return client


def signed_in_partner(app):
    """As the OIDC callback leaves it (that flow has its own tests and bench): login_user's session keys."""
    with app.app_context():
        partner_id = db.session.scalar(select(Partner.id).where(Partner.tenant == partner_bench.BENCH_TENANT))
        user_id = db.session.scalar(select(PartnerUser.id).where(PartnerUser.partner_id == partner_id))
    client = app.test_client()
    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        identifier = _create_identifier()
    with client.session_transaction() as session:
        session.update({"_user_id": f"partner:{user_id}", "_fresh": False, "_id": identifier,
                        "last_active": time.time()})
        session.permanent = True
    assert client.get("/partner/care-requests").status_code == 200
    return client


def paths(app, links):
    doctor = signed_in_doctor(app)
    cid, raw, birth = links[0]
    patient = signed_in_patient(app, raw, birth)
    partner = signed_in_partner(app)
    doctor_page = doctor.get(f"/consultations/{cid}").get_data(as_text=True)
    doctor_token = re.search(r'name="chat_token" value="([^"]+)"', doctor_page).group(1)
    doctor_csrf = consultation_bench.csrf_of(doctor_page)
    # Each page's place in the conversation (change counter, last message), moved on by every answer.
    patient_at = {"cursor": (-2, 0)}
    doctor_at = {"cursor": consultation_bench.chat_cursor(doctor_page)}
    numbers = itertools.count()

    def poll():
        since, after = patient_at["cursor"]
        r = patient.get(f"/c/room/chat?since={since}&after={after}", headers=HX)
        if r.status_code == 200:
            patient_at["cursor"] = consultation_bench.chat_cursor(r.get_data(as_text=True))
        return r

    def post():
        r = doctor.post(f"/consultations/{cid}/chat", headers=HX, data={
            "csrf_token": doctor_csrf, "chat_token": doctor_token, "message": f"message {next(numbers)}",
            "after": doctor_at["cursor"][1]})
        if r.status_code == 200:
            doctor_at["cursor"] = consultation_bench.chat_cursor(r.get_data(as_text=True))
        return r

    poll()
    return {
        "queue": (lambda: doctor.get("/consultations"), None, 200),
        "chat-post": (post, poll, 200),
        "chat-poll-new": (poll, post, 200),
        "chat-poll-same": (poll, None, 204),
        "partner-list": (lambda: partner.get("/partner/care-requests"), None, 200),
    }


def measure(counter, request, before, status: int, repeat: int) -> dict:
    cpu, wall, statements, commits = [], [], [], []
    for _ in range(repeat):
        if before:
            before()
        s0, c0 = counter.statements, counter.commits
        t0, p0 = time.perf_counter(), time.process_time()
        r = request()
        cpu.append((time.process_time() - p0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
        statements.append(counter.statements - s0)
        commits.append(counter.commits - c0)
        assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    return {"cpu": statistics.median(cpu), "wall": statistics.median(wall),
            "statements": statistics.median(statements), "commits": statistics.median(commits)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consultations", type=int, default=10_000)
    parser.add_argument("--care-requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--profile", help="print a pyinstrument profile of this path instead")
    args = parser.parse_args()

    app = create_app()
    began = time.perf_counter()
    _, links = consultation_bench.build(app, args.consultations, 1)
    partner_bench.load(app, args.care_requests, 100, 20, "http://127.0.0.1:1")
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(f"data: {args.consultations} open consultations, {args.care_requests} care requests over 100 partners, "
          f"on {database} ({time.perf_counter() - began:.0f} s to load); {args.repeat} requests per path, medians")
    try:
        with app.app_context():
            counter = Counter(db.engine)
        chosen = paths(app, links)
        if args.profile:
            from pyinstrument import Profiler

            request, before, status = chosen[args.profile]
            measure(counter, request, before, status, 20)
            with Profiler(interval=0.0005) as profiler:
                measure(counter, request, before, status, args.repeat)
            print(profiler.output_text(unicode=True, show_all=False))
            return
        print(f"{'path':<16} {'SQL':>5} {'commits':>8} {'CPU ms':>8} {'wall ms':>8}")
        for name, (request, before, status) in chosen.items():
            measure(counter, request, before, status, 20)  # warm caches and the connection pool
            r = measure(counter, request, before, status, args.repeat)
            print(f"{name:<16} {r['statements']:>5.0f} {r['commits']:>8.0f} {r['cpu']:>8.2f} {r['wall']:>8.2f}")
    finally:
        stop_embedded_redis(app.config["INSTANCE_PATH"])


if __name__ == "__main__":
    main()
