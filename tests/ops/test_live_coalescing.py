"""Coalesced live bumps (`live.bump_coalesced`): referrals arrive by the hundred a second under load, and the
screening queue's pages ask once a second, so a burst of changes is one INCR at once and one after the window,
not one per referral; and no change is left without a bump after it."""

import os
import threading
import time

import pytest

from portal import live
from portal.extensions import redis_client
from portal.referrals.services import QUEUE_TOPIC
from tests.ops import test_redis_silent
from tests.ops.test_redis_silent import web_redis_silent

TOPIC = "test-coalescing"
silent_redis = test_redis_silent.silent_redis  # the fixture, here too


@pytest.fixture
def window(monkeypatch):
    """A window long enough that a burst of calls from a test surely falls inside it, even on a slow CI host."""
    monkeypatch.setattr(live, "COALESCE_SECONDS", 1.0)
    live.settle_coalesced_bumps()
    yield live.COALESCE_SECONDS
    live.settle_coalesced_bumps()


def counter(app, topic=TOPIC) -> int:
    with app.app_context():
        return int(redis_client().get(f"live:{topic}") or 0)


def eventually(condition, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def timers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()]


def test_a_burst_is_one_bump_at_once_and_one_after_the_window(app, window):
    with app.app_context():
        began = time.monotonic()
        for _ in range(20):
            live.bump_coalesced(TOPIC)
    assert counter(app) == 1  # the first change, at once
    assert eventually(lambda: counter(app) == 2, within=window + 2)  # the other nineteen: one bump after it
    assert time.monotonic() - began >= window * 0.9  # not before the window ended
    assert not eventually(lambda: counter(app) > 2, within=0.3)  # and no more


def test_a_change_after_a_quiet_window_is_bumped_at_once(app, monkeypatch):
    monkeypatch.setattr(live, "COALESCE_SECONDS", 0.05)
    live.settle_coalesced_bumps()
    with app.app_context():
        live.bump_coalesced(TOPIC)
        time.sleep(0.15)
        live.bump_coalesced(TOPIC)
    assert counter(app) == 2
    assert not timers_alive()


def test_the_bump_that_followed_starts_the_next_window(app, window):
    """A change just after the bump that followed is not bumped at once: it follows at the next window's end."""
    with app.app_context():
        live.bump_coalesced(TOPIC)
        live.bump_coalesced(TOPIC)  # follows
        assert eventually(lambda: counter(app) == 2, within=window + 2)
        live.bump_coalesced(TOPIC)  # inside the window that bump began: it follows too
    assert counter(app) == 2
    assert eventually(lambda: counter(app) == 3, within=window + 2)


def test_topics_are_coalesced_apart(app, window):
    with app.app_context():
        live.bump_coalesced(TOPIC)
        live.bump_coalesced("another-topic")
    assert counter(app) == 1 and counter(app, "another-topic") == 1


def test_with_redis_silent_the_bump_to_follow_gives_up_without_holding_anyone(app, window, silent_redis, caplog):
    errors = []
    hook, threading.excepthook = threading.excepthook, lambda args: errors.append(args)
    try:
        with app.app_context():
            live.bump_coalesced(TOPIC)  # sent at once, Redis still answering
        with web_redis_silent(app, silent_redis), app.app_context():
            began = time.monotonic()
            live.bump_coalesced(TOPIC)  # leaves its bump to a timer, which meets the silent Redis: returns at once
            assert time.monotonic() - began < 0.1
            live.settle_coalesced_bumps(timeout=window + 10)
    finally:
        threading.excepthook = hook
    assert counter(app) == 1 and not errors and not timers_alive()
    assert caplog.text.count(f"could not bump live topic {TOPIC}") == 1  # the follower gave up, and said so


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_worker_starts_without_its_parents_bump_to_follow(app, window):
    with app.app_context():
        live.bump_coalesced(TOPIC)
        live.bump_coalesced(TOPIC)  # the parent's follows in a second
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, b"%d" % (len(live._coalescing.following) + len(live._coalescing.sent)))
        os._exit(0)
    os.close(write)
    seen = os.read(read, 16)
    os.waitpid(child, 0)
    assert seen == b"0"
    assert len(live._coalescing.following) == 1  # the parent's is still coming


def test_a_burst_of_referrals_moves_the_screening_queue_after_the_last_of_them(app, window, post_referral,
                                                                            seed_referral):
    before = counter(app, QUEUE_TOPIC)
    for n in range(3):
        guid = f"5b0f7a52-6c4e-4d7e-9a43-7c1e3f0d2a1{n}"
        assert post_referral({**seed_referral, "JournalGuid": guid}).status_code == 201
    assert counter(app, QUEUE_TOPIC) == before + 1  # the first referral's bump went at once
    assert eventually(lambda: counter(app, QUEUE_TOPIC) == before + 2, within=window + 2)  # the others' after
