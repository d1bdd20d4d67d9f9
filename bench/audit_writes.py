"""Audited reads from many processes and threads at once: how long `audit.record_read` takes
(the durable, hash-chained audit write every list and chat read makes) when writers queue for the
database. Prints figures; never passes or fails.

    .venv/bin/python bench/audit_writes.py [--processes 2] [--threads 4] [--seconds 8]

Each thread repeats: a GET request context, a small read, `record_read`, a 2 ms pause (the rest of
a page's work, done outside the write). Figures: p50/p99/max of record_read and audited reads per
second; and at the end `flask audit-verify`'s check of the whole chain.
"""

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("PORTAL_ENV", "development")  # generated secrets, embedded Redis: also on PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="care-portal-bench-")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from harness import percentile  # noqa: E402


def run_process(threads: int, seconds: float, environment: dict, out) -> None:
    os.environ.update(environment)
    from sqlalchemy import text

    from portal import create_app
    from portal.extensions import db
    from portal.security import audit

    app = create_app()
    timings: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work():
        mine = []
        while time.monotonic() < deadline:
            with app.test_request_context("/bench", method="GET"):
                db.session.execute(text("SELECT count(*) FROM audit_chain_head")).scalar()
                began = time.perf_counter()
                audit.record_read("bench.read", page=1)
                mine.append((time.perf_counter() - began) * 1000)
                db.session.remove()
            time.sleep(0.002)
        with lock:
            timings.extend(mine)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    [t.start() for t in workers]
    [t.join() for t in workers]
    out.put(timings)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.redis_embedded import stop_embedded_redis
    from portal.security import audit_chain

    app = create_app()
    with app.app_context():
        upgrade()
    out = mp.get_context("spawn").Queue()
    procs = [mp.get_context("spawn").Process(target=run_process,
                                             args=(args.threads, args.seconds, {"REDIS_URL": app.config["REDIS_URL"],
                                                                         "INSTANCE_PATH": app.instance_path}, out))
             for _ in range(args.processes)]
    [p.start() for p in procs]
    timings = [t for _ in procs for t in out.get()]
    [p.join() for p in procs]
    with app.app_context():
        result = audit_chain.verify(db.session)
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(f"{database}, {args.processes} processes x {args.threads} threads, {args.seconds:.0f} s, "
          f"load average {os.getloadavg()[0]:.1f}: {len(timings) / args.seconds:.0f} audited reads/s; record_read "
          f"p50 {statistics.median(timings):.2f} ms, p90 {percentile(timings, 90):.2f} ms, "
          f"p99 {percentile(timings, 99):.2f} ms, max {max(timings):.2f} ms; chain {result.checked} events, "
          f"{'intact' if result.ok else 'BROKEN: ' + '; '.join(result.problems)}")
    if not os.environ.get("REDIS_URL"):
        stop_embedded_redis(app.config["INSTANCE_PATH"])


if __name__ == "__main__":
    main()
