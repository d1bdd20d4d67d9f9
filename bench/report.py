"""Benchmark: the insurer report job on 10k consultations served for one insurer.

Prints figures; never passes or fails on time. Runs in a fresh temporary instance (SQLite by
default; DATABASE_URL for PostgreSQL, whose schema it replaces):

  .venv/bin/python bench/report.py [--consultations 10000]

1. Seeds N completed consultations in one month for one insurer, each with its order and line and
   a filed, sealed report (bulk inserts; the sealed columns are encrypted by the crypto module
   through their EncryptedText type, as in production).
2. Records a report run and builds it in a child process (`bench/report.py --child RUN_ID`), which
   calls the RQ job function exactly as a worker would (a worker adds only its fork around it).
3. Prints the job's wall time (measured in the child around the job call, and the child's total
   including interpreter start) and the child's peak resident memory, VmHWM from /proc/self/status
   — the whole process: Python, Flask, SQLAlchemy, openpyxl and the job —
   and, for comparison, the same process's peak before the job started (the app alone). With
   --tracemalloc the child also traces the job's own Python allocations and prints their peak (the
   tracing slows the job; read the time from a run without it).
Targets: 10k consultations in ≤ 30 s, memory under 200 MB.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("PORTAL_ENV", "development")  # generated secrets, embedded Redis: also on PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "--child" not in sys.argv:
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="care-portal-bench-")
os.environ.update(RATELIMIT_ENABLED="0", LOG_LEVEL="WARNING")

from harness import fresh_schema  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402

BATCH = 2000
OUTCOMES = ["helped", "referred_gp", "prescription", "follow_up"]
CODES = ["R74", "L03", "A04", "S06"]
CHANNELS = ["VIDEO", "PHONE", "CHAT"]


def seed(app, n: int) -> int:
    from portal.consultations.models import Consultation, ConsultationResult
    from portal.orders.demo import DEMO_PRICES, load_demo_insurer
    from portal.orders.models import Order, OrderLine
    from portal.patients.models import Patient
    from portal.reports.models import ReportRun
    from portal.security.staff_users import create_or_update_user

    with app.app_context():
        fresh_schema(app)
        doctor = create_or_update_user("bench-doctor@example.org", "bench-password-1", "doctor", "Dr. Bench")
        load_demo_insurer()
        insurer_id = db.session.scalar(text("SELECT id FROM insurers"))
        db.session.execute(insert(Patient), [
            {"first_name": f"P{i}", "last_name": "Bench", "birth_date": date(1980, 1, 1) + timedelta(days=i),
             "phone": f"+4790{i:06d}", "phone_needs_check": False, "from_insurer_referral": True,
             "marketing_allowed": False, "created_at": datetime(2026, 1, 1)} for i in range(1000)])
        patients = list(db.session.scalars(select(Patient.id).order_by(Patient.id)))
        start = datetime(2026, 3, 1, 6)
        for first in range(0, n, BATCH):
            ids = range(first + 1, min(n, first + BATCH) + 1)
            ended = {i: start + timedelta(seconds=i * 200) for i in ids}  # 10k spread over March
            db.session.execute(insert(Consultation), [
                {"id": i, "code": f"R{i:07d}", "patient_id": patients[i % len(patients)], "source": "referral",
                 "state": "completed", "category": "insurance", "enabled_channels": ["CHAT"],
                 "primary_channel": CHANNELS[i % 3], "options": {}, "insurer_id": insurer_id,
                 "service_provider_id": doctor.id, "created_at": ended[i] - timedelta(minutes=40),
                 "starts_at": ended[i] - timedelta(minutes=25), "ends_at": ended[i]} for i in ids])
            db.session.execute(insert(Order), [
                {"id": i, "insurer_id": insurer_id, "consultation_id": i, "served_on": ended[i].date(),
                 "subtotal": Decimal(DEMO_PRICES[CHANNELS[i % 3]]), "discount_total": Decimal("0.00"),
                 "total": Decimal(DEMO_PRICES[CHANNELS[i % 3]]), "created_at": ended[i], "updated_at": ended[i]}
                for i in ids])
            db.session.execute(insert(OrderLine), [
                {"order_id": i, "description": "Consultation", "unit_price": Decimal(DEMO_PRICES[CHANNELS[i % 3]]),
                 "quantity": 1, "discount": Decimal("0"), "line_total": Decimal(DEMO_PRICES[CHANNELS[i % 3]])}
                for i in ids])
            db.session.execute(insert(ConsultationResult), [
                {"consultation_id": i, "author_id": doctor.id, "icpc2_code": CODES[i % 4], "outcome": OUTCOMES[i % 4],
                 "policy_number": f"POL-{i:08d}", "notes": "Bench notes.", "created_at": ended[i]} for i in ids])
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            for table in ("consultations", "orders", "order_lines", "consultation_results"):
                db.session.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
        run = ReportRun(insurer_id=insurer_id, period_start=date(2026, 3, 1), period_end=date(2026, 3, 31))
        db.session.add(run)
        db.session.commit()
        return run.id


def child(run_id: int) -> None:
    from portal.reports import jobs
    from portal.reports.models import ReportRun

    app = create_app()
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        baseline_kib = peak_resident_kib()
        traced = os.environ.get("BENCH_TRACEMALLOC") == "1"
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        outcome = jobs.build_insurer_report(run_id)
        seconds = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] if traced else None
        run = db.session.get(ReportRun, run_id)
        print(json.dumps({"baseline_mib": baseline_kib / 1024, "peak_mib": peak_resident_kib() / 1024,
                          "traced_peak": traced_peak, "outcome": outcome, "job_seconds": seconds, "rows": run.rows_done,
                          "sealed_file_bytes": len(run.file or "")}))


def peak_resident_kib() -> int:
    """This process's peak resident memory since it started (VmHWM). Not ru_maxrss: that one carries the
    high-water mark of the parent it was forked from across exec, so it reported the bench, not the job."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--consultations", type=int, default=10_000)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also trace the job's Python allocations (slower; the peak is printed)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    app = create_app()
    try:
        if args.tracemalloc:
            os.environ["BENCH_TRACEMALLOC"] = "1"
        measure(app, args.consultations)
    finally:
        if not os.environ.get("REDIS_URL"):
            from portal.redis_embedded import stop_embedded_redis

            stop_embedded_redis(os.environ["INSTANCE_PATH"])


def measure(app, consultations: int) -> None:
    seeded = time.perf_counter()
    run_id = seed(app, consultations)
    print(f"seeded {consultations} consultations with orders and sealed reports in "
          f"{time.perf_counter() - seeded:.1f} s ({app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]})")
    began = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", str(run_id)], capture_output=True, text=True,
                          env=os.environ.copy())
    total = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"the job failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    peak_mib = figures["peak_mib"]
    print(f"report job: {figures['rows']} rows in {figures['job_seconds']:.1f} s "
          f"(child process {total:.1f} s with start-up); target ≤ 30 s")
    print(f"peak memory of the job's process (VmHWM): {peak_mib:.0f} MiB, of which {figures['baseline_mib']:.0f} MiB "
          f"before the job started (the app loaded); target < 200 MB")
    if figures["traced_peak"] is not None:
        print(f"peak of the job's own Python allocations (tracemalloc): {figures['traced_peak'] / 2**20:.1f} MiB")
    print(f"sealed file stored: {figures['sealed_file_bytes'] / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
