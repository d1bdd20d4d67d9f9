"""Change counters in Redis that live pages poll: cheap to read, shared by every process.

A page remembers the counter it was rendered at and asks again every second; while the
counter is unchanged the answer is an empty 204, so polling costs one Redis GET.
"""

import logging

import redis
from flask import current_app, g

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


# The counter raised to a value unless it is already there or past it, in one round trip.
_RAISE_TO = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local value = tonumber(ARGV[1])
if value > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return value
end
return current
"""


def raise_to(topic: str, value: int) -> int | None:
    """Tell live pages on `topic` that it has reached `value` (a counter that only goes up, such as the id of
    the last message stored); the counter after, or None when Redis did not answer (an outage only delays
    the pages)."""
    scripts = current_app.extensions.setdefault("portal_live_scripts", {})
    if "raise_to" not in scripts:
        scripts["raise_to"] = redis_client().register_script(_RAISE_TO)
    try:
        return int(scripts["raise_to"](keys=[f"live:{topic}"], args=[value]))
    except redis.RedisError:
        log.warning("could not raise live topic %s; pages refresh on the next change", topic)
        return None


def follows(topic: str):
    """Mark a view as a live page or poll of `topic`: a signed-in user's session check reads its counter in the
    same Redis round trip (before the view reads any data, as `version` would), and `version` answers from it."""

    def mark(view):
        view.live_key = f"live:{topic}"
        return view

    return mark


def version(topic: str) -> int:
    key = f"live:{topic}"
    read = g.get("redis_read")
    if read is not None and key in read:
        return int(read[key] or 0)
    try:
        return int(redis_client().get(key) or 0)
    except redis.RedisError:
        return -1  # never equal to what a page holds, so pages keep refreshing from the database
