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


def schedule_next(name: str, func: str, every_seconds: int, queue: str = "default") -> str | None:
    """Schedule the run of the next `every_seconds` slot. Never raises: returns None when Redis is down."""
    slot = int(time.time() // every_seconds) + 1
    job_id = f"{name}-{slot}"
    try:
        Queue(queue, connection=redis_client()).enqueue_at(
            datetime.fromtimestamp(slot * every_seconds, tz=timezone.utc), func, job_id=job_id,
            result_ttl=every_seconds, failure_ttl=7 * 24 * 3600)
    except redis.RedisError:
        log.warning("could not schedule %s; the next worker start will", name)
        return None
    return job_id
