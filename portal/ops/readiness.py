"""What `/readyz` checks: the database, Redis, and that a worker was seen in the last minute.

RQ workers keep a heartbeat in Redis (`last_heartbeat` on their worker key). `flask worker` runs them with
a short TTL, so an idle worker beats every ~20 s and one running a job every 15 s; a worker not seen for
`WORKER_STALE_SECONDS` is stuck or was killed without saying goodbye (one that stops cleanly deregisters).
"""

from datetime import datetime, timezone

from sqlalchemy import text

from portal.extensions import registered_workers

# Passed to RQ: an idle worker waits for work at most this minus 15 s before it beats again.
WORKER_TTL_SECONDS = 35
JOB_MONITORING_SECONDS = 15  # a forked job's monitor beats this often while the job runs
WORKER_STALE_SECONDS = 60


def database_check(session) -> str:
    try:
        session.execute(text("SELECT 1"))
        return "ok"
    except Exception:  # any failure means not ready; the probe says which part, not why
        return "unreachable"
    finally:
        session.rollback()


def redis_check(connection) -> str:
    try:
        connection.ping()
        return "ok"
    except Exception:
        return "unreachable"


def worker_check(connection, now: datetime | None = None) -> str:
    """'ok' when every registered worker beat within the last minute and there is at least one."""
    now = now or datetime.now(timezone.utc)
    try:
        workers = registered_workers(connection)
    except Exception:
        return "unknown (Redis unreachable)"
    if not workers:
        return "no worker is running"
    stale = []
    for worker in workers:
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=timezone.utc)
        age = (now - beat).total_seconds() if beat else None
        if age is None or age > WORKER_STALE_SECONDS:
            stale.append(f"{worker.name} not seen for {int(age)} s" if age is not None else f"{worker.name} never seen")
    return "stale: " + "; ".join(sorted(stale)) if stale else "ok"
