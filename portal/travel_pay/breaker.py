"""The claims-API breaker: after repeated failures, filings pause for a while instead of each claim burning
its attempts against a claims system that is down. Its state is in Redis, so every worker shares it.

- Every system failure (5xx, timeout, connection error, refused token) adds one to FAILURES_KEY, which
  expires TRAVEL_CLAIM_BREAKER_WINDOW_SECONDS after the last failure; a success clears it, so the count is
  "failures in a row". At TRAVEL_CLAIM_BREAKER_FAILURES the breaker opens: OPEN_KEY holds the time it
  reopens and expires then (TRAVEL_CLAIM_BREAKER_PAUSE_SECONDS).
- While it is open a claim job does not call out and does not use an attempt: the claim waits until the
  reopen time under a new job id (see services.pause_claim). Nothing has to close the breaker: its key
  expires, and the waiting jobs run. The first calls after the pause are the probe: if the claims system
  is still down, the breaker opens again after another run of failures.
- Redis errors never stop a filing: without Redis the breaker simply stays closed.
"""

import logging
import time
from datetime import datetime, timezone

import redis
from flask import current_app

from portal.extensions import redis_client

log = logging.getLogger(__name__)

OPEN_KEY = "travel-claims:breaker:open"
FAILURES_KEY = "travel-claims:breaker:failures"


def reopens_at(raw) -> datetime | None:
    """The naive-UTC time in an OPEN_KEY value (bytes or str), or None."""
    if not raw:
        return None
    try:
        return datetime.fromtimestamp(float(raw), tz=timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError):
        return None


def open_until() -> datetime | None:
    """When filing resumes, while the breaker is open; None when it is closed (or Redis is unreachable)."""
    try:
        return reopens_at(redis_client().get(OPEN_KEY))
    except redis.RedisError:
        return None


def record_failure() -> bool:
    """Count one claims-API failure; True when this one opened the breaker."""
    cfg = current_app.config
    try:
        with redis_client().pipeline() as pipe:
            failures = pipe.incr(FAILURES_KEY).expire(FAILURES_KEY, cfg["TRAVEL_CLAIM_BREAKER_WINDOW_SECONDS"]) \
                .execute()[0]
        if failures < cfg["TRAVEL_CLAIM_BREAKER_FAILURES"]:
            return False
        pause = cfg["TRAVEL_CLAIM_BREAKER_PAUSE_SECONDS"]
        opened = redis_client().set(OPEN_KEY, f"{time.time() + pause:.3f}", nx=True, ex=pause)
        if opened:
            redis_client().delete(FAILURES_KEY)  # after the pause, a new run of failures is needed to reopen
            log.warning("claims API failed %s times in a row: travel claim filings pause for %s s", failures, pause)
        return bool(opened)
    except redis.RedisError:
        return False


def record_success() -> None:
    """A claims-API call worked: the failures in a row start again from zero."""
    try:
        redis_client().delete(FAILURES_KEY)
    except redis.RedisError:
        pass
