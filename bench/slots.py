"""Slot search and booking figures over a million slots. Prints figures; never passes or fails.

    .venv/bin/python bench/slots.py                      # SQLite in a temporary folder
    DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/slots.py   # an EMPTY database of yours

It bulk-inserts the slots with SQLAlchemy Core, starts gunicorn on loopback and measures:
- FHIR slot search (the seed query: one service, one week, status=free, with the _includes)
  with wrk at 4 connections (Python threads if wrk is missing): p50/p95/p99 and requests/s;
- booking throughput: POST /Appointment of distinct free slots from 4 client threads.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
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
from harness import Gunicorn, percentile, run_wrk, with_cpu, wrk_line  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.fhir import oauth  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402
from portal.scheduling.models import HealthcareService, Location, Practitioner, Schedule, Slot  # noqa: E402

FIRST_DAY = date(2030, 1, 7)  # a Monday


def working_days(count: int):
    day = FIRST_DAY
    while count:
        if day.weekday() < 5:
            yield day
            count -= 1
        day += timedelta(days=1)


def load(app, total: int, services: int, schedules_per_service: int) -> tuple[float, int]:
    """Bulk-insert `total` slots (15 minutes, 09:00-17:00 on weekdays), about 30 % busy."""
    per_schedule = total // (services * schedules_per_service)
    days = -(-per_schedule // 32)
    rng = random.Random(1)
    began = time.perf_counter()
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(insert(HealthcareService), [{"name": f"Service {n}", "organisation_code": f"R{n:04d}",
                                                  "active": True} for n in range(services)])
        conn.execute(insert(Location), [{"name": f"Location {n}"} for n in range(services)])
        conn.execute(insert(Practitioner), [{"family_name": f"Doctor{n}", "given_name": "Pat"}
                                            for n in range(services * schedules_per_service)])
        service_ids = list(conn.scalars(select(HealthcareService.id).order_by(HealthcareService.id)))
        location_ids = list(conn.scalars(select(Location.id).order_by(Location.id)))
        practitioner_ids = list(conn.scalars(select(Practitioner.id).order_by(Practitioner.id)))
        rows = []
        for s, service_id in enumerate(service_ids):
            for k in range(schedules_per_service):
                rows.append({"name": f"Schedule {s}-{k}", "healthcare_service_id": service_id,
                             "location_id": location_ids[s],
                             "practitioner_id": practitioner_ids[s * schedules_per_service + k],
                             "timezone": "UTC", "active": True})
        conn.execute(insert(Schedule), rows)
        schedules = conn.execute(select(Schedule.id, Schedule.healthcare_service_id).order_by(Schedule.id)).all()
        slot_table = Slot.__table__
        batch = []
        made = 0
        for schedule_id, service_id in schedules:
            for day in working_days(days):
                for n in range(32):
                    if made >= total:
                        break
                    start = datetime(day.year, day.month, day.day, 9) + timedelta(minutes=15 * n)
                    batch.append({"schedule_id": schedule_id, "healthcare_service_id": service_id, "start": start,
                                  "end": start + timedelta(minutes=15),
                                  "status": "busy" if rng.random() < 0.3 else "free", "version": 1})
                    made += 1
                if len(batch) >= 50_000:
                    conn.execute(insert(slot_table), batch)
                    batch = []
        if batch:
            conn.execute(insert(slot_table), batch)
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - began, made


def start_gunicorn(app, workers: int) -> Gunicorn:
    env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"])
    return Gunicorn(env, workers=workers, log_path=Path(app.config["INSTANCE_PATH"]) / "gunicorn.log").start()


def search_with_wrk(server: Gunicorn, url: str, headers: dict, clients: int, seconds: int) -> str:
    r = with_cpu(server, lambda: run_wrk(url, connections=clients, seconds=seconds, headers=headers))
    return (f"wrk, {clients} connections, {seconds} s: " + wrk_line(r)
            + f"; server CPU {r['server_cpu_ms_per_req']:.1f} ms/search (target p95 <= 20 ms)")


def search_with_python(server: Gunicorn, url: str, headers: dict, clients: int, seconds: int) -> str:
    deadline = time.perf_counter() + seconds
    timings: list[float] = []

    def run(_):
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                assert session.get(url, headers=headers, timeout=30).status_code == 200
                timings.append(time.perf_counter() - began)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(clients)))
    return (f"python threads, {clients} clients, {seconds} s: {len(timings)} requests; "
            f"p50 {percentile(timings, 50) * 1000:.1f} ms, p95 {percentile(timings, 95) * 1000:.1f} ms")


def bookings(app, url: str, headers: dict, clients: int, count: int) -> str:
    with app.app_context():
        service_id = db.session.scalar(select(HealthcareService.id).order_by(HealthcareService.id.desc()))
        slots = db.session.execute(select(Slot.id, Slot.start, Slot.end).where(
            Slot.healthcare_service_id == service_id, Slot.status == "free").order_by(Slot.start).limit(count)).all()
    nhs_numbers = ["9434765919", "4010232137", "9990548609", "9449306680"]
    timings, statuses = [], []

    def book(n):
        slot_id, start, end = slots[n]
        body = {"resourceType": "Appointment", "status": "booked", "start": start.isoformat() + "Z",
                "end": end.isoformat() + "Z", "slot": [{"reference": f"Slot/{slot_id}"}],
                "contained": [{"resourceType": "Patient", "id": "P1", "name": [{"family": "Bench", "given": ["Ben"]}],
                               "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                                               "value": nhs_numbers[n % 4]}]}],
                "participant": [{"actor": {"reference": "#P1"}, "status": "accepted"}]}
        began = time.perf_counter()
        response = requests.post(f"{url}/fhir/stu3/Appointment", data=json.dumps(body),
                                 headers={**headers, "Content-Type": "application/fhir+json"}, timeout=60)
        timings.append(time.perf_counter() - began)
        statuses.append(response.status_code)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(book, range(len(slots))))
    elapsed = time.perf_counter() - began
    return (f"{len(slots)} bookings from {clients} clients in {elapsed:.1f} s: {len(slots) / elapsed:.0f} bookings/s "
            f"({statuses.count(201)} × 201); p50 {statistics.median(timings) * 1000:.1f} ms, "
            f"p95 {percentile(timings, 95) * 1000:.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=1_000_000)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--schedules-per-service", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (CPUs)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--bookings", type=int, default=400)
    args = parser.parse_args()

    app = create_app()
    with app.app_context():
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Slot)):
            raise SystemExit("the database already has slots; give the benchmark an empty database")
        client, secret = oauth.create_api_client(name="bench", scopes=list(oauth.SCOPES))
        client_id = client.client_id
        db.session.remove()
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(f"database: {database}; CPUs: {os.cpu_count()}; gunicorn workers: {args.workers}")
    seconds, made = load(app, args.slots, args.services, args.schedules_per_service)
    print(f"bulk insert: {made} slots in {seconds:.1f} s ({made / seconds:,.0f} slots/s)")

    server = start_gunicorn(app, args.workers)
    url = server.url
    try:
        token = requests.post(f"{url}/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(client_id, secret), timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with app.app_context():
            service_id = db.session.scalar(select(HealthcareService.id).order_by(HealthcareService.id)
                                           .offset(args.services // 2))
        week = FIRST_DAY + timedelta(weeks=20)
        # The NHS Booking API page's query, with all six includes (and the Organization one) requested.
        query = (f"{url}/fhir/stu3/Slot?schedule.actor:healthcareservice={service_id}"
                 f"&start=ge{week.isoformat()}T00:00:00%2B00:00"
                 f"&start=le{(week + timedelta(days=6)).isoformat()}T23:59:59%2B00:00"
                 "&status=free&_include=Slot:schedule&_include:iterate=Schedule:actor:Practitioner"
                 "&_include:iterate=Schedule:actor:PractitionerRole&_include:iterate=Schedule:actor:HealthcareService"
                 "&_include:iterate=HealthcareService:Organization&_include:iterate=HealthcareService:location"
                 "&_format=json")
        sample = requests.get(query, headers=headers, timeout=30)
        body = sample.json()
        print(f"search result: {body['total']} free slots of one service in one week, "
              f"{len(body['entry'])} entries, {len(sample.content) / 1024:.0f} KiB")
        with app.app_context():
            plan = db.session.execute(text(
                ("EXPLAIN QUERY PLAN " if database == "sqlite" else "EXPLAIN ")
                + "SELECT id FROM slots WHERE healthcare_service_id = :s AND status = 'free' "
                  "AND start >= :a AND start <= :b ORDER BY start"),
                {"s": service_id, "a": datetime.combine(week, datetime.min.time()),
                 "b": datetime.combine(week + timedelta(days=7), datetime.min.time())}).all()
            print("query plan: " + " | ".join(str(row[-1]) for row in plan))
        requests.get(query, headers=headers, timeout=30)  # warm every worker a little
        runner = search_with_wrk if shutil.which("wrk") else search_with_python
        print("hello world (/healthz): " + runner(server, f"{url}/healthz", {}, args.clients, args.seconds))
        print("slot search: " + runner(server, query, headers, args.clients, args.seconds))
        print("booking: " + bookings(app, url, headers, args.clients, args.bookings))
    finally:
        server.stop()
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis(app.config["INSTANCE_PATH"])


if __name__ == "__main__":
    main()
