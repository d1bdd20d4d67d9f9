"""Change counters in Redis that live pages poll: cheap to read, shared by every process.

A page remembers the counter it was rendered at and asks again every second; while the
counter is unchanged the answer is an empty 204, so polling costs one Redis GET.
"""

import logging
import os
import threading
import time

import redis
from flask import current_app, g

from portal.extensions import redis_client

log = logging.getLogger(__name__)


def bump(topic: str) -> int | None:
    """Tell live pages on `topic` that something changed; the new version, or None when Redis did not
    answer (an outage only delays the pages)."""
    return _incr(redis_client(), topic)


def _incr(client: redis.Redis, topic: str) -> int | None:
    try:
        return client.incr(f"live:{topic}")
    except redis.RedisError:
        log.warning("could not bump live topic %s; pages refresh on the next change", topic)
        return None


# Referrals arrive by the hundred a second under load, each a change to the screening queue, whose pages
# ask once a second. `bump_coalesced` bumps such a topic at once when this process has not in the last
# COALESCE_SECONDS, and otherwise leaves one bump to follow at the end of that window: one INCR per window
# per process instead of one per request, and no change without a bump after it.
COALESCE_SECONDS = 0.1


class _Coalescing:
    """One process's bumps of coalesced topics: when each was last sent, and the timers of those with a bump
    to follow."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent: dict[str, float] = {}
        self.following: dict[str, threading.Timer] = {}


_coalescing = _Coalescing()


def _afresh_in_child() -> None:
    """A forked child (a gunicorn worker) keeps none of its parent's timers or lock: it starts its own."""
    global _coalescing
    _coalescing = _Coalescing()


os.register_at_fork(after_in_child=_afresh_in_child)


def bump_coalesced(topic: str) -> None:
    """`bump` for a topic that many requests in a row change: at once after a quiet COALESCE_SECONDS,
    otherwise once at the end of the window for all the changes within it (a timer thread, not a daemon:
    a worker that exits sends it first). A page sees a change at most COALESCE_SECONDS later than with
    `bump`."""
    state = _coalescing
    with state.lock:
        if topic in state.following:  # under load, most calls: nothing more to do
            return
        now = time.monotonic()
        wait = state.sent.get(topic, float("-inf")) + COALESCE_SECONDS - now
        if wait > 0:
            timer = threading.Timer(wait, _bump_following, (state, redis_client(), topic))
            state.following[topic] = timer
            timer.start()
            return
        state.sent[topic] = now
    _incr(redis_client(), topic)


def _bump_following(state: _Coalescing, client: redis.Redis, topic: str) -> None:
    with state.lock:  # a change from now on finds no bump to follow, and starts the next window
        del state.following[topic]
        state.sent[topic] = time.monotonic()
    _incr(client, topic)


def settle_coalesced_bumps(timeout: float = 5.0) -> None:
    """Wait until this process's bumps still to follow are sent, and let its next change be bumped at once
    (tests: one test's bump never lands in the next)."""
    with _coalescing.lock:
        timers = list(_coalescing.following.values())
    for timer in timers:
        timer.join(timeout)
    with _coalescing.lock:
        _coalescing.sent.clear()


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
