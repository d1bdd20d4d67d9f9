"""Dashboard render time on a year of data: 100k consultations (most started, most completed, a
report with a sealed outcome on 60k of them) and 100k referrals, in a temporary SQLite database
(or DATABASE_URL). Renders /dashboard for a full year as an admin, a few times, and prints the times.

    .venv/bin/python bench/dashboards.py [--consultations 100000] [--runs 3]
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
os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="care-portal-bench-dash-"))
os.environ.setdefault("RATELIMIT_ENABLED", "false")
os.environ.setdefault("TWO_FACTOR_REQUIRED_ROLES", "")  # the bench admin signs in with the password only

from flask_migrate import upgrade  # noqa: E402
from harness import csrf_field  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.consultations.models import Consultation, ConsultationResult  # noqa: E402
from portal.consultations.results import OUTCOMES  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.patients.models import Patient  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402
from portal.referrals.models import Referral  # noqa: E402

PASSWORD = "bench password 123"
FIRST = datetime(2030, 1, 1, 7, 0)


def _flush(model, batch):
    if batch:
        db.session.execute(insert(model), batch)
        batch.clear()


def build(app, consultations: int):
    from portal.security.staff_users import create_or_update_user

    rng = random.Random(1)
    with app.app_context():
        upgrade()
        create_or_update_user("bench-admin@example.org", PASSWORD, "admin", "Bench Admin")
        doctor = create_or_update_user("bench-doctor@example.org", PASSWORD, "doctor", "Dr. Bench")
        db.session.execute(insert(Patient), [
            {"first_name": f"P{i}", "last_name": "Bench", "birth_date": date(1980, 1, 1) + timedelta(days=i),
             "phone": f"+4790{i:06d}", "phone_needs_check": False, "from_insurer_referral": True,
             "marketing_allowed": False, "created_at": FIRST} for i in range(1000)])
        patients = [row[0] for row in db.session.execute(text("SELECT id FROM patients ORDER BY id"))]
        referrals, rows = [], []
        for i in range(consultations):
            created = FIRST + timedelta(minutes=i * 525_600 // consultations)
            referrals.append({"journal_guid": f"00000000-0000-4000-8000-{i:012d}", "patient_id": patients[i % 1000],
                              "format_id": "bench", "message_timestamp": created, "payload_fingerprint": "x" * 64,
                              "status": "handled", "received_at": created})
            started = created + timedelta(minutes=rng.randint(2, 240)) if i % 10 else None
            ended = started + timedelta(minutes=rng.randint(5, 45)) if started and i % 5 else None
            state = "completed" if ended else "in_progress" if started else "ready_for_pickup"
            rows.append({"code": f"D{i:07d}", "patient_id": patients[i % 1000], "source": "referral", "state": state,
                         "category": "insurance", "enabled_channels": ["CHAT"], "primary_channel": "CHAT",
                         "options": {}, "created_at": created, "starts_at": started, "ends_at": ended})
            if len(rows) == 10_000:
                _flush(Referral, referrals)
                _flush(Consultation, rows)
        _flush(Referral, referrals)
        _flush(Consultation, rows)
        done = db.session.execute(select(Consultation.id, Consultation.ends_at)
                                  .where(Consultation.state == "completed")).all()
        outcomes, results = list(OUTCOMES), []
        for cid, ended in done[:60_000]:
            # insert(ConsultationResult) binds through EncryptedText: the outcome is sealed as in the app.
            results.append({"consultation_id": cid, "author_id": doctor.id, "created_at": ended,
                            "icpc2_code": "R74", "outcome": rng.choice(outcomes)})
            if len(results) == 10_000:
                _flush(ConsultationResult, results)
        _flush(ConsultationResult, results)
        db.session.commit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--consultations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    app = create_app({"TESTING": True})
    started = time.perf_counter()
    build(app, args.consultations)
    print(f"built {args.consultations} consultations and referrals in {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = csrf_field(page)
    client.post("/login", data={"email": "bench-admin@example.org", "password": PASSWORD, "csrf_token": token})
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        response = client.get("/dashboard?since=2030-01-01&until=2030-12-31")
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}; /dashboard for 365 days: "
          + ", ".join(f"{t * 1000:.0f} ms" for t in times))
    if not os.environ.get("REDIS_URL"):
        stop_embedded_redis(os.environ["INSTANCE_PATH"])


if __name__ == "__main__":
    main()
