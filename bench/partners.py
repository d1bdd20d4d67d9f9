"""Care-request list figures with a million care requests across 1,000 partners. Prints figures;
never passes or fails.

    .venv/bin/python bench/partners.py                      # SQLite in a temporary folder
    DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/partners.py   # an EMPTY database of yours

It bulk-inserts partners, users, patients and care requests with SQLAlchemy Core, starts gunicorn
on loopback and the sandbox identity provider in this process, signs a partner user in through the
real OIDC flow, and runs wrk with that session cookie against GET /partner/care-requests (the first
page of the current tab, 25 rows, each request also writing its audit event) at 4 connections.
Headroom is measured requests/s over the average rate of 250,000 requests a day.
"""

import argparse
import os
import random
import shutil
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

os.environ.setdefault("PORTAL_ENV", "development")  # generated secrets, embedded Redis: also on PostgreSQL

sys.path.insert(0, str(Path(__file__).resolve().parent))
import requests  # noqa: E402
import slots as slot_bench  # noqa: E402  (sets INSTANCE_PATH and the bench environment first)
from flask_migrate import upgrade  # noqa: E402
from harness import run_wrk, with_cpu, wrk_line  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from portal import create_app  # noqa: E402
from portal.care_requests.models import CareRequest, PartnerPatient  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.partners.models import Partner, PartnerUser  # noqa: E402
from portal.patients.models import Patient  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402
from portal.sandbox import create_app as create_sandbox  # noqa: E402
from portal.sandbox.oidc import CLIENT_ID, DEMO_TENANTS, client_secret_for  # noqa: E402

USER_AGENT = "care-portal-bench"
STATUSES = ["scheduled"] * 5 + ["triage"] * 2 + ["booked"] * 2 + ["declined", "cancelled"]
BENCH_TENANT = "northside"


def load(app, total: int, partners: int, patients_per_partner: int, idp_url: str) -> tuple[float, int]:
    rng = random.Random(6)
    began = time.perf_counter()
    with app.app_context(), db.engine.begin() as conn:
        # Core applies the EncryptedText column type on insert, so the secret goes in plain here.
        sealed_secret = client_secret_for(BENCH_TENANT)
        rows = [{"name": f"Partner {n}", "tenant": f"partner-{n}", "idp_issuer": f"https://idp.example/{n}",
                 "idp_client_id": CLIENT_ID, "idp_client_secret": None, "self_scheduling": True,
                 "eligibility_rules": {}, "active": True, "created_at": datetime(2026, 1, 1)}
                for n in range(partners - 1)]
        rows.append({"name": "Northside", "tenant": BENCH_TENANT, "idp_issuer": f"{idp_url}/idp/{BENCH_TENANT}",
                     "idp_client_id": CLIENT_ID, "idp_client_secret": sealed_secret, "self_scheduling": True,
                     "eligibility_rules": {}, "active": True, "created_at": datetime(2026, 1, 1)})
        conn.execute(insert(Partner), rows)
        partner_ids = list(conn.scalars(select(Partner.id).order_by(Partner.id)))
        bench_partner = partner_ids[-1]
        conn.execute(insert(PartnerUser), [
            {"partner_id": pid, "email": f"user{pid}@partner.example", "role": "scheduler", "active": True,
             "invited_at": datetime(2026, 1, 1)} for pid in partner_ids[:-1]] + [
            {"partner_id": bench_partner, "email": u["email"], "role": "scheduler", "active": True,
             "invited_at": datetime(2026, 1, 1)} for u in DEMO_TENANTS[BENCH_TENANT]["users"]])
        user_of = dict(conn.execute(select(PartnerUser.partner_id, func.min(PartnerUser.id))
                                    .group_by(PartnerUser.partner_id)).all())
        conn.execute(insert(Patient), [{"first_name": f"Pat{n}", "last_name": f"Bench{n}",
                                        "birth_date": date(1950, 1, 1) + timedelta(days=n % 20000),
                                        "phone": f"+4477009{n:05d}"[:13], "phone_needs_check": False,
                                        "from_insurer_referral": False, "marketing_allowed": False,
                                        "created_at": datetime(2026, 1, 1)}
                                       for n in range(partners * patients_per_partner)])
        patient_ids = list(conn.scalars(select(Patient.id).order_by(Patient.id)))
        links = []
        patients_of = {}
        for i, pid in enumerate(partner_ids):
            mine = patient_ids[i * patients_per_partner:(i + 1) * patients_per_partner]
            patients_of[pid] = mine
            links += [{"partner_id": pid, "patient_id": p, "created_at": datetime(2026, 1, 1)} for p in mine]
        conn.execute(insert(PartnerPatient), links)
        table = CareRequest.__table__
        start = datetime(2025, 1, 1)
        batch, made = [], 0
        per_partner = total // partners
        for pid in partner_ids:
            for _ in range(per_partner):
                batch.append({"partner_id": pid, "patient_id": rng.choice(patients_of[pid]),
                              "status": rng.choice(STATUSES), "created_by_id": user_of[pid],
                              "created_at": start + timedelta(minutes=rng.randrange(600_000)), "version": 1,
                              "callback_phone": "+447700900123"})
                made += 1
                if len(batch) >= 50_000:
                    conn.execute(insert(table), batch)
                    batch = []
        if batch:
            conn.execute(insert(table), batch)
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - began, made


def sign_in(url: str) -> str:
    """Sign the bench partner's first demo user in through the sandbox provider; returns the cookie."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    authorize = session.get(f"{url}/p/{BENCH_TENANT}/login", allow_redirects=False, timeout=30).headers["Location"]
    parts = urlsplit(authorize)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()}
    form["sub"] = DEMO_TENANTS[BENCH_TENANT]["users"][0]["sub"]
    callback = requests.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form, allow_redirects=False,
                             timeout=30).headers["Location"]
    done = session.get(callback, allow_redirects=False, timeout=30)
    assert done.status_code == 302, done.text
    page = session.get(f"{url}/partner/care-requests", timeout=30)
    assert page.status_code == 200 and page.text.count('id="care-request-') == 25, page.status_code
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def list_with_wrk(server, url: str, cookie: str, clients: int, seconds: int) -> tuple[str, float]:
    r = with_cpu(server, lambda: run_wrk(url, connections=clients, seconds=seconds,
                                         headers={"Cookie": cookie, "User-Agent": USER_AGENT}))
    return (f"wrk, {clients} connections, {seconds} s: " + wrk_line(r)
            + f"; server CPU {r['server_cpu_ms_per_req']:.1f} ms/request, "
            + f"other work {r['other_cpu']:.2f} cores"), r["rps"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--care-requests", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=1_000)
    parser.add_argument("--patients-per-partner", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (CPUs)")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")

    sandbox = create_sandbox()
    idp_server = make_server("127.0.0.1", 0, sandbox, threaded=True)
    threading.Thread(target=idp_server.serve_forever, daemon=True).start()
    idp_url = f"http://127.0.0.1:{idp_server.server_port}"

    app = create_app()
    with app.app_context():
        upgrade()
        if db.session.scalar(select(func.count()).select_from(CareRequest)):
            raise SystemExit("the database already has care requests; give the benchmark an empty database")
        db.session.remove()
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(f"database: {database}; CPUs: {os.cpu_count()}; gunicorn workers: {args.workers}")
    seconds, made = load(app, args.care_requests, args.partners, args.patients_per_partner, idp_url)
    print(f"bulk insert: {made} care requests across {args.partners} partners in {seconds:.1f} s "
          f"({made / seconds:,.0f} rows/s)")
    with app.app_context():
        partner_id = db.session.scalar(select(Partner.id).where(Partner.tenant == BENCH_TENANT))
        sql = ("SELECT id FROM care_requests WHERE partner_id = :p AND status IN ('draft','triage','scheduled',"
               "'booked') ORDER BY created_at DESC, id DESC LIMIT 26")
        plan = db.session.execute(text(("EXPLAIN QUERY PLAN " if database == "sqlite" else "EXPLAIN ") + sql),
                                  {"p": partner_id}).all()
        print("query plan: " + " | ".join(str(row[-1]) for row in plan))

    server = slot_bench.start_gunicorn(app, args.workers)
    url = server.url
    try:
        cookie = sign_in(url)
        target = f"{url}/partner/care-requests"
        figures, rate = list_with_wrk(server, target, cookie, args.clients, args.seconds)
        print("care-request list: " + figures)
        daily = 250_000 / 86_400
        print(f"headroom: {rate:.0f} requests/s against 250,000 requests/day ({daily:.1f}/s on average): "
              f"{rate / daily:.0f}× (target p99 ≤ 40 ms at {args.clients} clients)")
    finally:
        server.stop()
        idp_server.shutdown()
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis(app.config["INSTANCE_PATH"])


if __name__ == "__main__":
    main()
