"""Web requests never hang on Redis. A Redis that accepts connections but never answers (a hung server,
a black-holed network) is the hard case: every client the web uses has connect and read timeouts, pages
that do not need Redis still render (signed-in pages fail closed at once: their session record is in
Redis), rate limits count in memory meanwhile, and messages wait in the outbox for the sweep that
already exists."""

import socket
import threading
import time
from contextlib import contextmanager

import pytest
from rq import Queue, Worker
from sqlalchemy import select

from portal.extensions import connect_redis, db, limiter, redis_client, worker_redis
from portal.notifications import services as outbox
from portal.notifications.models import Notification
from tests.conftest import PASSWORD, csrf_token_from, make_staff

TIMEOUT = 0.5  # seconds, for these tests; the defaults are 1 s to connect and 2 s to answer


@pytest.fixture
def silent_redis():
    """A TCP server on loopback that accepts every connection and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(5)
    for connection in held:
        connection.close()
    server.close()


def silent_client(app, url):
    return connect_redis(dict(app.config, REDIS_URL=url, REDIS_CONNECT_TIMEOUT_SECONDS=TIMEOUT,
                              REDIS_READ_TIMEOUT_SECONDS=TIMEOUT))


@contextmanager
def web_redis_silent(app, url):
    working = app.extensions["portal_redis"]
    app.extensions["portal_redis"] = silent_client(app, url)
    try:
        yield
    finally:
        app.extensions["portal_redis"] = working


def timed(call):
    began = time.monotonic()
    result = call()
    return result, time.monotonic() - began


def test_every_redis_client_of_the_web_has_connect_and_read_timeouts(app):
    with app.app_context():
        web = redis_client().connection_pool.connection_kwargs
        limits = limiter.storage.storage.connection_pool.connection_kwargs
    for kwargs in (web, limits):
        assert kwargs["socket_connect_timeout"] == app.config["REDIS_CONNECT_TIMEOUT_SECONDS"] == 1
        assert kwargs["socket_timeout"] == app.config["REDIS_READ_TIMEOUT_SECONDS"] == 2


def test_reading_the_workers_for_readyz_and_the_queue_page_keeps_the_web_clients_timeouts(app, staff_client):
    admin = staff_client("admin")
    with app.app_context():
        worker = Worker([Queue("default", connection=worker_redis())], connection=worker_redis(), name="w1")
        worker.register_birth()
    assert app.test_client().get("/readyz").json["checks"]["workers"] == "ok"
    assert admin.get("/admin/rq").status_code == 200
    with app.app_context():
        assert redis_client().connection_pool.connection_kwargs["socket_timeout"] == 2
        worker.register_death()


def test_with_redis_silent_referrals_are_received_and_signed_in_pages_fail_closed_quickly(
        app, staff_client, post_referral, seed_referral, silent_redis):
    secretary = staff_client("secretary")
    with web_redis_silent(app, silent_redis):
        received, took = timed(lambda: post_referral(seed_referral))
        assert received.status_code == 201 and took < 5  # the live counter's bump gave up, not the referral
        sign_in, took = timed(lambda: app.test_client().get("/login"))
        assert sign_in.status_code == 200 and took < 5  # a page that does not need Redis renders
        # Signed-in pages need the server-side session record (issue 15), which lives in Redis: they fail
        # closed, with a clear page and at once, rather than trusting a cookie that may have been signed out.
        queue, took = timed(lambda: secretary.get("/queue"))
        assert queue.status_code == 503 and "Unavailable for a moment" in queue.get_data(as_text=True) and took < 5
        ready, took = timed(lambda: app.test_client().get("/readyz"))
        assert ready.status_code == 503 and ready.json["checks"]["redis"] == "unreachable" and took < 5
    assert "Line Danser" in secretary.get("/queue").get_data(as_text=True)  # Redis back: the referral is queued


def test_with_redis_silent_messages_wait_in_the_outbox_and_the_sweep_sends_them(app, silent_redis):
    with app.app_context():
        with web_redis_silent(app, silent_redis):
            message = outbox.queue_sms(to="+4791234567", text="Your appointment", kind="test")
            db.session.commit()
            _, took = timed(lambda: outbox.dispatch([message]))
            assert took < 5
        assert db.session.scalar(select(Notification.status)) == "pending"
        assert outbox.sweep_pending(older_than_seconds=0) == 1  # Redis back: the sweep enqueues it
        db.session.remove()


def test_with_the_rate_limit_store_silent_sign_in_still_works_counting_in_memory(app, client, silent_redis,
                                                                                  monkeypatch):
    make_staff(app, "secretary")
    form = {"email": "secretary@test.example", "password": PASSWORD,
            "csrf_token": csrf_token_from(client.get("/login").get_data(as_text=True))}
    monkeypatch.setattr(limiter, "_storage_dead", False)  # restored after the test, as are the others
    monkeypatch.setattr(limiter.storage, "storage", silent_client(app, silent_redis))
    signed_in, took = timed(lambda: client.post("/login", data=form))
    assert signed_in.status_code == 302 and took < 5
