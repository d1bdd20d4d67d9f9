"""SQLite writers take turns (portal/sqlite_writer.py): a second writer waits for the first and
starts the moment it commits or rolls back; readers never wait; a thread never waits for itself."""

import os
import subprocess
import sys
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


@pytest.fixture(params=["inotify", "helper-thread"])
def wait_mode(request, monkeypatch):
    """Waiters sleep on inotify; where it is missing, a helper thread does a blocking flock."""
    if request.param == "helper-thread":
        monkeypatch.setattr(sqlite_writer, "_this_threads_inotify", lambda: None)
    return request.param


def _helper_threads() -> int:
    return sum(t.name == "sqlite-writer-turn" for t in threading.enumerate())


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
def test_a_second_writer_waits_for_the_turn_and_starts_when_the_first_finishes(app, engine, finish, wait_mode):
    first = engine.connect()
    transaction = first.begin()
    first.execute(text("UPDATE audit_chain_head SET last_seq = last_seq"))
    assert first.connection.dbapi_connection._turn is not None
    started, done = threading.Event(), threading.Event()
    thread = _second_writer(app, started, done)
    assert started.wait(5)
    assert not done.wait(0.5), "the second writer must wait while the first holds the turn"
    assert _helper_threads() == (wait_mode == "helper-thread")  # with inotify it waits in its own thread
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


# -- a transaction left open: others give up after a bounded wait, with a clear 503 ----------------------

@pytest.fixture
def short_wait(app, engine, monkeypatch):
    """Writers wait 0.5 s (turn and SQLite busy timeout) instead of SQLITE_WRITE_WAIT_SECONDS."""
    factory = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["factory"]
    monkeypatch.setattr(factory, "wait_seconds", 0.5)
    engine.dispose()  # new connections take the shorter busy timeout
    yield
    monkeypatch.undo()
    engine.dispose()


def _left_open(app, take_turn: bool):
    """A writing transaction in another thread that stays open until the returned event is set."""
    import sqlite3

    holding, release = threading.Event(), threading.Event()
    path = db.engine.url.database

    def run():
        if take_turn:
            with app.app_context(), db.engine.begin() as conn:
                conn.execute(text("UPDATE audit_chain_head SET last_seq = last_seq"))
                holding.set()
                release.wait(30)
                conn.rollback()
            return
        # Like the sqlite3 shell: no turn taken, only SQLite's own write lock.
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        holding.set()
        release.wait(30)
        raw.execute("ROLLBACK")
        raw.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert holding.wait(10)
    return release, thread


def _post_while_held(post_referral, payload, release, holder):
    """POST a referral while `holder` keeps writers waiting, then let it go: (the answer, seconds it took)."""
    try:
        began = time.monotonic()
        answer = post_referral(payload)
        return answer, time.monotonic() - began
    finally:
        release.set()
        holder.join(10)


@pytest.mark.parametrize("take_turn", [True, False], ids=["holding-the-turn", "holding-sqlites-lock"])
def test_a_transaction_left_open_makes_a_write_fail_after_the_wait_with_a_clear_503(
        app, short_wait, post_referral, seed_referral, take_turn):
    with app.app_context():
        release, thread = _left_open(app, take_turn)
    answer, waited = _post_while_held(post_referral, seed_referral, release, thread)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.mimetype == "application/problem+json" and "busy" in answer.json["detail"]
    assert 0.4 <= waited < 5, waited
    assert post_referral(seed_referral).status_code == 201  # once it is closed, writes go on


def test_a_page_that_cannot_write_says_busy_in_words(app, short_wait, client):
    from tests.conftest import PASSWORD, csrf_token_from, make_staff

    make_staff(app, "secretary")
    form = {"email": "secretary@test.example", "password": PASSWORD,
            "csrf_token": csrf_token_from(client.get("/login").get_data(as_text=True))}
    with app.app_context():
        release, thread = _left_open(app, take_turn=True)
    try:
        answer = client.post("/login", data=form)  # signing in writes an audit event
    finally:
        release.set()
        thread.join(10)
    assert answer.status_code == 503
    assert "busy finishing another change" in answer.get_data(as_text=True)
    assert client.post("/login", data=form).status_code == 302


def test_a_writer_that_dies_holding_the_turn_hands_it_on_at_once(app, engine, wait_mode):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)",
         f"{engine.url.database}.writer-turn"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started, done = threading.Event(), threading.Event()
        thread = _second_writer(app, started, done)
        assert started.wait(5)
        assert not done.wait(0.5), "the turn is held by the other process"
        began = time.monotonic()
        holder.kill()  # no unlock, no close of its own: the kernel closes its files
        assert done.wait(5)
        assert time.monotonic() - began < 1
        thread.join(5)
    finally:
        holder.kill()
        holder.wait(5)
        holder.stdout.close()


def test_a_waiter_that_gave_up_leaves_the_turn_free_for_the_next(app, engine, wait_mode):
    holder = engine.connect()
    transaction = holder.begin()
    holder.execute(text("UPDATE audit_chain_head SET last_seq = last_seq"))
    outcome = []

    def impatient():
        waiter = engine.raw_connection()
        try:
            waiter.dbapi_connection.wait_seconds = 0.2
            sqlite_writer.take_turn(waiter.dbapi_connection)
            outcome.append("took")
        except sqlite_writer.WriterTurnTimeout:
            outcome.append("gave up")
        finally:
            del waiter.dbapi_connection.wait_seconds  # the class's again: the pool hands this connection on
            waiter.close()

    thread = threading.Thread(target=impatient)
    thread.start()
    thread.join(10)
    assert outcome == ["gave up"]
    transaction.rollback()
    holder.close()
    # The abandoned wait got the turn after the rollback and handed it straight back.
    done = threading.Event()
    _second_writer(app, threading.Event(), done)
    assert done.wait(5)


def _outside_a_transaction(engine, sql: str):
    """A PRAGMA on a pooled connection's own driver connection (SQLAlchemy would begin a transaction first)."""
    connection = engine.raw_connection()
    try:
        return connection.dbapi_connection.execute(sql).fetchone()
    finally:
        connection.close()


def _pages_waiting(engine) -> int:
    """Pages in the WAL not yet copied into the database, as the writers read it."""
    fd = os.open(f"{engine.url.database}-shm", os.O_RDONLY)
    try:
        return sqlite_writer._pages_to_checkpoint(fd)
    finally:
        os.close(fd)


@pytest.fixture
def wal_filler(engine):
    """A table of random blobs, gone again afterwards: the other tests' database is shared."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE wal_filler (x BLOB)")
    yield
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE wal_filler")


def test_a_writer_checkpoints_the_wal_itself_once_it_holds_a_thousand_pages(engine, wal_filler):
    """SQLite's own checkpoint (inside COMMIT, with the turn held) waits until four times as many; the
    writer's runs after its turn is given back."""
    assert _outside_a_transaction(engine, "PRAGMA wal_autocheckpoint") == (sqlite_writer.BACKSTOP_PAGES,)
    _outside_a_transaction(engine, "PRAGMA wal_checkpoint(TRUNCATE)")
    most = 0
    for _ in range(60):  # ~25 pages a commit: ~1,500 pages in all
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO wal_filler VALUES (randomblob(100000))")
        most = max(most, _pages_waiting(engine))
    assert sqlite_writer.CHECKPOINT_PAGES - 30 <= most < sqlite_writer.CHECKPOINT_PAGES + 30
    assert _pages_waiting(engine) < sqlite_writer.CHECKPOINT_PAGES


def test_the_pages_waiting_are_read_as_sqlite_counts_them(engine, wal_filler):
    _outside_a_transaction(engine, "PRAGMA wal_checkpoint(TRUNCATE)")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO wal_filler VALUES (randomblob(20000))")
    waiting = _pages_waiting(engine)
    busy, in_wal, copied = _outside_a_transaction(engine, "PRAGMA wal_checkpoint(PASSIVE)")
    assert busy == 0 and waiting == in_wal == copied > 5
    assert _pages_waiting(engine) == 0


# -- one writing request per process: the webhook's parse-and-store waits for its sibling thread's ----------

def _writer_slot_held_elsewhere(app):
    """Another thread of this process inside `one_writer_per_process()` until the returned event is set."""
    inside, release = threading.Event(), threading.Event()

    def run():
        with app.test_request_context("/api/referrals", method="POST"), sqlite_writer.one_writer_per_process():
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert inside.wait(10)
    return release, thread


def test_a_webhook_waits_for_its_process_s_other_writing_request_on_sqlite_and_not_on_postgresql(
        app, post_referral, seed_referral):
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    release, holder = _writer_slot_held_elsewhere(app)
    answers = []
    sender = threading.Thread(target=lambda: answers.append(post_referral(seed_referral)), daemon=True)
    try:
        sender.start()
        sender.join(0.5)
        assert sender.is_alive() == sqlite  # SQLite: waits while its sibling writes; PostgreSQL: does not
    finally:
        release.set()
        holder.join(10)
        sender.join(10)
    assert [a.status_code for a in answers] == [201]


def test_a_webhook_whose_process_stays_busy_writing_answers_503_after_the_wait(
        app, engine, monkeypatch, post_referral, seed_referral):
    monkeypatch.setitem(app.extensions, sqlite_writer.EXTENSION, 0.3)
    release, holder = _writer_slot_held_elsewhere(app)
    answer, waited = _post_while_held(post_referral, seed_referral, release, holder)
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert "busy" in answer.json["detail"] and 0.25 <= waited < 5, waited
    assert post_referral(seed_referral).status_code == 201  # nothing was stored by the refused one


def test_a_request_inside_its_process_s_writer_place_does_not_wait_for_itself(app, engine):
    with app.test_request_context("/", method="POST"), sqlite_writer.one_writer_per_process():
        began = time.monotonic()
        with sqlite_writer.one_writer_per_process():
            assert time.monotonic() - began < 1


def test_a_waiter_s_watch_on_the_turn_file_lasts_only_as_long_as_its_wait(app, engine):
    """Closes of the turn file (every commit's) must not pile up in the kernel for a thread that waited once."""
    with app.app_context():
        release, holder = _left_open(app, take_turn=True)  # another thread holds the turn
    threading.Timer(0.3, release.set).start()
    waiter = engine.raw_connection()
    try:
        began = time.monotonic()
        sqlite_writer.take_turn(waiter.dbapi_connection)
        assert waiter.dbapi_connection._turn is not None and time.monotonic() - began >= 0.2  # it did wait
        inotify = sqlite_writer._this_threads_inotify()
        with open(f"/proc/self/fdinfo/{inotify.fileno()}") as info:
            assert "inotify wd:" not in info.read()
    finally:
        release.set()
        waiter.rollback()
        waiter.close()
        holder.join(10)


def test_a_thread_holding_the_turn_does_not_wait_for_its_process_s_writer_place(app, engine):
    """Its sibling in the place may be waiting for that very turn: waiting here would deadlock them both."""
    release, other = _writer_slot_held_elsewhere(app)
    holder = engine.connect()
    transaction = holder.begin()
    holder.execute(text("UPDATE audit_chain_head SET last_seq = last_seq"))  # this thread takes the turn
    try:
        with app.test_request_context("/", method="POST"):
            began = time.monotonic()
            with sqlite_writer.one_writer_per_process():
                assert time.monotonic() - began < 1
    finally:
        transaction.rollback()
        holder.close()
        release.set()
        other.join(10)
