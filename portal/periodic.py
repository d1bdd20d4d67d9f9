"""Periodic jobs without a separate cron process: a job that schedules its own next run.

The next run's job id names its time slot (`<name>-<slot number>`), so every worker that starts
(and every run that ends) schedules the same id for the same slot: RQ keeps one, never two.
A fixed id for all runs would not work: the running job's hash expires after it finishes,
taking the scheduled next run with it.
"""

import logging
import time
from datetime import datetime, timezone

import redis
from rq import Queue

from portal.extensions import redis_client

log = logging.getLogger(__name__)


def schedule_next(name: str, func: str, every_seconds: int, queue: str = "default",
                  at_front: bool = False) -> str | None:
    """Schedule the run of the next `every_seconds` slot. Never raises: returns None when Redis is down.
    `at_front`: when its time comes the run goes to the front of the queue, not behind a backlog."""
    slot = int(time.time() // every_seconds) + 1
    return schedule_once(f"{name}-{slot}", datetime.fromtimestamp(slot * every_seconds, tz=timezone.utc), func,
                         queue=queue, result_ttl=every_seconds, at_front=at_front)


def schedule_once(job_id: str, when: datetime, func: str, *args, queue: str = "default",
                  result_ttl: int | None = None, at_front: bool = False) -> str | None:
    """Put one run of `func` in RQ's schedule at `when` under `job_id`: asking again for the same id
    keeps one run, never two. Naive times are UTC, like every time we store. Never raises: returns
    None when Redis is down (the caller's next chance, e.g. a worker start, schedules it)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        Queue(queue, connection=redis_client()).enqueue_at(when, func, *args, job_id=job_id, result_ttl=result_ttl,
                                                           failure_ttl=7 * 24 * 3600, at_front=at_front)
    except redis.RedisError:
        log.warning("could not schedule %s", job_id)
        return None
    return job_id
