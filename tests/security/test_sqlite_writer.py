"""SQLite writers take turns (portal/sqlite_writer.py): a second writer waits for the first and
starts the moment it commits or rolls back; readers never wait; a thread never waits for itself."""

import threading
import time

import pytest
from sqlalchemy import text

from portal import sqlite_writer
from portal.extensions import db
from portal.security import audit
from portal.security.audit_chain import verify
from portal.security.models import AuditEvent


@pytest.fixture
def engine(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("writer turns are for SQLite")
    with app.app_context():
        yield db.engine


def _second_writer(app, started: threading.Event, done: threading.Event):
    def run():
        with app.app_context():
            started.set()
            with db.engine.begin() as conn:  # outside a request: a writer, so it takes the turn
                conn.execute(text("UPDATE audit_chain_head SET last_seq = last_seq"))
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("finish", ["commit", "rollback"])
def test_a_second_writer_waits_for_the_turn_and_starts_when_the_first_finishes(app, engine, finish):
    first = engine.connect()
    transaction = first.begin()
    first.execute(text("UPDATE audit_chain_head SET last_seq = last_seq"))
    assert first.connection.dbapi_connection._turn is not None
    started, done = threading.Event(), threading.Event()
    thread = _second_writer(app, started, done)
    assert started.wait(5)
    assert not done.wait(0.5), "the second writer must wait while the first holds the turn"
    began = time.monotonic()
    getattr(transaction, finish)()
    assert done.wait(5), "the second writer must start once the first has finished"
    assert time.monotonic() - began < 1  # woken at once, not after a busy-handler sleep
    assert first.connection.dbapi_connection._turn is None
    first.close()
    thread.join(5)


def test_readers_do_not_wait_for_a_writer(app, engine):
    writer = engine.connect()
    transaction = writer.begin()
    writer.execute(text("UPDATE audit_chain_head SET last_seq = last_seq"))
    try:
        with app.test_request_context("/", method="GET"):
            began = time.monotonic()
            assert db.session.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0
            assert time.monotonic() - began < 1
            db.session.remove()
    finally:
        transaction.rollback()
        writer.close()


def test_a_thread_that_holds_the_turn_does_not_wait_for_it_again(engine):
    first = engine.connect()
    transaction = first.begin()
    first.execute(text("UPDATE audit_chain_head SET last_seq = last_seq"))
    second = engine.raw_connection()
    try:
        began = time.monotonic()
        sqlite_writer.take_turn(second.dbapi_connection)
        assert time.monotonic() - began < 1
        assert second.dbapi_connection._turn is None
    finally:
        second.close()
        transaction.rollback()
        first.close()


def test_a_read_audited_under_concurrent_writers_is_committed_in_the_chain_before_it_returns(app, engine):
    errors = []

    def reader(n):
        try:
            for i in range(15):
                with app.test_request_context("/", method="GET"):
                    audit.record_read("test.read", page=i, reader=n)
                    db.session.remove()
                # Visible from a fresh connection as soon as record_read returned: durable, not queued.
                with app.app_context():
                    mine = [e for e in db.session.query(AuditEvent).filter_by(action="test.read")
                            if e.details["reader"] == n]
                    assert len(mine) == i + 1
                    db.session.remove()
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert not errors
    with app.app_context():
        assert db.session.query(AuditEvent).count() == 60
        assert verify(db.session).ok
