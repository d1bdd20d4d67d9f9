"""What one travel claim costs a worker, in process: SQL statements, commits, Redis commands and round
trips, and CPU per claim — for filing (the claim job) and for following (the status follower), next to a
no-op RQ job through the same worker and queue.

    .venv/bin/python bench/claims_profile.py                    # 1,000 claims, SQLite in a temporary folder
    .venv/bin/python bench/claims_profile.py --cprofile 25      # and each phase's 25 costliest functions (CPU)
    .venv/bin/python bench/claims_profile.py --claims 2 --sql   # every SQL statement and commit of two claims
    DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/claims_profile.py   # its schema is replaced

The sandbox runs under gunicorn as in bench/claims.py; the worker is RQ's SimpleWorker in burst mode in
this process, so its counts are exact and the CPU is the worker's own (process time), not the sandbox's.
Redis commands are counted by the server (INFO commandstats), round trips by the client connections.
SORT=cumulative orders the cProfile by cumulative time; PROFILE_DUMP=/tmp/x writes /tmp/x-<phase>.prof.
Prints figures; never passes or fails.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import claims as claim_bench  # noqa: E402  (sets the bench's environment and INSTANCE_PATH first)
import redis  # noqa: E402
import requests  # noqa: E402
from harness import free_port, fresh_schema, process_cpu_seconds, worker_pids  # noqa: E402
from rq import Queue  # noqa: E402
from sqlalchemy import event, func, select, update  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db, redis_client, worker_redis  # noqa: E402
from portal.ops.workers import InProcessWorker  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402
from portal.security.models import utcnow  # noqa: E402
from portal.travel_pay import following  # noqa: E402
from portal.travel_pay.models import DECIDED, FILED, TravelClaim  # noqa: E402
from portal.travel_pay.services import QUEUE_NAME, sweep_travel_claims  # noqa: E402


class Counts:
    """SQL statements and commits (SQLAlchemy events), Redis round trips (client sends) and commands
    (the server's own count), CPU seconds of this process."""

    def __init__(self, engine, sandbox_pid: int):
        self.sandbox_pids = worker_pids(sandbox_pid)
        self.sql = self.commits = self.round_trips = 0
        self.echo = False
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        original = redis.connection.AbstractConnection.send_packed_command

        def send_packed_command(connection, command, check_health=True):
            self.round_trips += 1
            return original(connection, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = send_packed_command

    def _statement(self, conn, cursor, statement, *args):
        self.sql += 1
        if self.echo:
            print("SQL", " ".join(statement.split())[:300])

    def _commit(self, *args):
        self.commits += 1
        if self.echo:
            print("COMMIT")

    def snapshot(self) -> dict:
        cpu = redis_client().info("cpu")
        stats = redis_client().info("commandstats")
        commands = Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()})
        return {"sql": self.sql, "commits": self.commits, "round_trips": self.round_trips, "commands": commands,
                "cpu": time.process_time(), "redis_cpu": cpu["used_cpu_sys"] + cpu["used_cpu_user"],
                "sandbox_cpu": sum(process_cpu_seconds(pid) for pid in self.sandbox_pids)}


def per_item(before: dict, after: dict, items: int) -> str:
    commands = after["commands"] - before["commands"]
    commands["info"] -= 1  # the snapshot's own
    commands = +commands
    total = sum(commands.values())
    busiest = ", ".join(f"{name} {calls / items:.1f}" for name, calls in commands.most_common(8))
    return (f"{(after['sql'] - before['sql']) / items:.2f} SQL statements, "
            f"{(after['commits'] - before['commits']) / items:.2f} commits, "
            f"{total / items:.1f} Redis commands in {(after['round_trips'] - before['round_trips'] - 1) / items:.1f} "
            f"round trips; CPU ms: worker {(after['cpu'] - before['cpu']) * 1000 / items:.2f}, "
            f"sandbox {(after['sandbox_cpu'] - before['sandbox_cpu']) * 1000 / items:.2f}, "
            f"Redis {(after['redis_cpu'] - before['redis_cpu']) * 1000 / items:.2f}\n    ({busiest})")


def work_burst(connection) -> None:
    InProcessWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection).work(
        burst=True, with_scheduler=False, logging_level="WARNING")


def measured(name: str, counts: Counts, items: int, run, top: int) -> None:
    profile = cProfile.Profile(time.process_time) if top else None  # CPU, not waiting
    before = counts.snapshot()
    if profile:
        profile.enable()
    run()
    if profile:
        profile.disable()
    after = counts.snapshot()
    print(f"{name}: {items} — per item: {per_item(before, after, items)}")
    if profile:
        if os.environ.get("PROFILE_DUMP"):
            profile.dump_stats(f"{os.environ['PROFILE_DUMP']}-{name.split()[0]}.prof")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(os.environ.get("SORT", "tottime")).print_stats(top)
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--cprofile", type=int, default=0, help="print this many functions by own time")
    parser.add_argument("--sql", action="store_true", help="print each SQL statement and commit (use few claims)")
    args = parser.parse_args()

    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    os.environ["SANDBOX_URL"] = sandbox_url
    app = create_app()
    processes = []
    try:
        with app.app_context():
            fresh_schema(app)  # on PostgreSQL: an earlier run's claims would be swept and filed too
            processes.append(claim_bench.start_sandbox(port))
            claim_bench.wait_healthy(sandbox_url)
            counts = Counts(db.engine, processes[0].pid)
            connection = worker_redis()
            queue = Queue(QUEUE_NAME, connection=redis_client())
            queue.enqueue_many([Queue.prepare_data("os.getpid", result_ttl=60) for _ in range(args.claims)])
            measured("no-op RQ jobs", counts, args.claims, lambda: work_burst(connection), args.cprofile)

            claim_bench.seed(args.claims)
            counts.echo = args.sql
            requests.post(f"{sandbox_url}/travel/mode", timeout=10,
                          json={"mode": "succeed", "decide_after_seconds": 0}).raise_for_status()
            sweep_travel_claims(batch=args.claims)
            measured("filing (claim jobs)", counts, args.claims, lambda: work_burst(connection), args.cprofile)
            filed = db.session.scalar(select(func.count()).select_from(TravelClaim).where(TravelClaim.status == FILED))
            db.session.execute(update(TravelClaim).where(TravelClaim.status == FILED)
                               .values(next_status_check_at=utcnow()))
            db.session.commit()
            measured("following (status checks, each a decision)", counts, filed,
                     lambda: following.follow_claims(budget_seconds=600), args.cprofile)
            decided = db.session.scalar(select(func.count()).select_from(TravelClaim)
                                        .where(TravelClaim.status == DECIDED))
            db.session.commit()
            counters = requests.get(f"{sandbox_url}/travel/counters", timeout=10).json()
            print(f"filed {filed}, decided {decided}; sandbox: filings {counters['filings']}, "
                  f"duplicates {counters['duplicates']}, status checks {counters['status_checks']}")
    finally:
        claim_bench.stop(processes)
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis(app.config["INSTANCE_PATH"])


if __name__ == "__main__":
    main()
