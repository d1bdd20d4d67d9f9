"""Change counters in Redis that live pages poll: cheap to read, shared by every process.

A page remembers the counter it was rendered at and asks again every second; while the
counter is unchanged the answer is an empty 204, so polling costs one Redis GET.
"""

import logging

import redis

from portal.extensions import redis_client

log = logging.getLogger(__name__)


def bump(topic: str) -> int | None:
    """Tell live pages on `topic` that something changed; the new version, or None when Redis did not
    answer (an outage only delays the pages)."""
    try:
        return redis_client().incr(f"live:{topic}")
    except redis.RedisError:
        log.warning("could not bump live topic %s; pages refresh on the next change", topic)
        return None


def version(topic: str) -> int:
    try:
        return int(redis_client().get(f"live:{topic}") or 0)
    except redis.RedisError:
        return -1  # never equal to what a page holds, so pages keep refreshing from the database
