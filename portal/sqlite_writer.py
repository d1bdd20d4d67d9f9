"""SQLite's one writer, taken in turn and handed on at once.

SQLite lets one transaction write at a time. A writer that finds the lock taken sleeps in SQLite's
busy handler and tries again after 1, 2, 5, 10, … up to 100 ms; meanwhile a newcomer can take the
lock first. Under load (every audited read writes its event) those sleeps, not the work, made the
slow tail: a 0.3 ms median wait for the lock, but 40 ms at the 99th percentile and 195 ms at worst.

So a transaction that will write first takes an exclusive `flock` on `<database>.writer-turn` (one
open file per connection, so threads and processes queue alike) and gives it back right after its
COMMIT or ROLLBACK. A waiter sleeps until the turn file is closed (inotify, `_wait_for_turn`), so it
wakes the moment the turn is given back, by a crash too, and SQLite's lock is then free too, so its busy
handler rarely runs. SQLite's own locking stays the guarantee: a process that does not take turns (the
sqlite3 shell, an old worker) is only slower, never unsafe.
A thread that already holds a turn through another connection does not wait for a second one
(that would wait for itself); SQLite's busy timeout then applies as before.

SQLite checkpoints the WAL file into the database (copying pages, two fsyncs) inside the COMMIT that
takes it past 1,000 pages, with the turn still held: one webhook commit in twenty took 5-85 ms that way
while every other writer waited, most of the commits' time. So a connection that took turns lets its
turn go first and then checkpoints (PASSIVE: it waits for nobody, and writers go on meanwhile); SQLite's
own checkpoint stays as a backstop at four times the size.

Within one worker process, two threads that both write gain nothing by running at once: they share one
interpreter lock, and while one holds the writer's turn the other's Python (a webhook's parsing) holds
up its statements, and with them every writer on the machine. A request that only computes and writes
(no call to another system) therefore runs its work inside `one_writer_per_process()`: the process's
other threads go on serving pages, but its next such request waits for this one to finish. The
referral webhook on 4 processes x 2 threads: a tenth more referrals per second in process, 4-34 % more
in paired rounds under gunicorn at 32 clients (docs/architecture.md, Figures).

No wait is endless: a transaction left open (a stuck request, a forgotten shell) makes the
others give up after `wait_seconds` (SQLITE_WRITE_WAIT_SECONDS) with WriterTurnTimeout, which pages
and APIs answer as 503 "busy, try again"; SQLite's own busy timeout is the same number, and so is the wait
for the process's writer.
"""

import fcntl
import math
import os
import sqlite3
import struct
import threading
import time
from contextlib import contextmanager, suppress

from flask import current_app, g, has_request_context, request
from inotify_simple import INotify, flags as inotify_flags

_local = threading.local()


class WriterTurnTimeout(sqlite3.OperationalError):
    """The writer's turn did not come within the wait: another transaction has held it that long."""


# A waiter looks at the turn again at least this often: a close that raced its lock's release (a crash: the
# kernel reports the close before it drops the lock) or a turn file replaced since costs it no more.
RECHECK_SECONDS = 0.05
_watches = threading.local()


def _this_threads_inotify() -> INotify | None:
    """This thread's inotify descriptor; None where inotify is missing. One per thread (two threads reading
    one descriptor would take each other's wake-ups) and per process (a forked child must not read its
    parent's)."""
    mine = getattr(_watches, "inotify", None)
    if mine is None or mine[0] != os.getpid():
        try:
            mine = (os.getpid(), INotify())
        except (OSError, AttributeError):  # no inotify here (another OS, or the instances limit reached)
            mine = (os.getpid(), None)
        _watches.inotify = mine
    return mine[1]


def _wait_for_turn(fd: int, seconds: float, turn_path: str) -> bool:
    """Wait up to `seconds` for the flock on `fd`; True once it is held. After a timeout the fd is no
    longer the caller's (closed here, or the helper's).

    flock has no timeout. A turn is given back by closing the file (`_give_turn` unlocks first, then
    closes), so the waiter watches the turn file for closes with inotify and sleeps in its own thread until
    one comes, then tries the lock again: one wake-up per turn given back, as a blocking flock would have,
    but bounded. The watch lasts only as long as the wait (events for nobody would pile up in the kernel).
    Where inotify is missing, `_wait_in_helper`."""
    inotify = _this_threads_inotify()
    try:
        watch = inotify.add_watch(turn_path, inotify_flags.CLOSE_WRITE) if inotify is not None else None
    except OSError:
        watch = None
    if watch is None:
        return _wait_in_helper(fd, seconds)
    deadline, acquired = time.monotonic() + seconds, False
    try:
        while not acquired:
            try:  # again now that the watch is set: a close since the caller's try is not missed
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                acquired = True
            except BlockingIOError:
                if (left := deadline - time.monotonic()) <= 0:
                    break
                inotify.read(timeout=math.ceil(min(left, RECHECK_SECONDS) * 1000))  # at once if a close came
    finally:
        with suppress(OSError):  # gone already if the file was deleted meanwhile
            inotify.rm_watch(watch)
        if not acquired:
            os.close(fd)
    return acquired


def _wait_in_helper(fd: int, seconds: float) -> bool:
    """The wait without inotify: a helper thread does the blocking flock (woken by the kernel the moment
    the turn is free) while this thread waits on an event with a timeout; a second wake-up per wait. After
    a timeout the fd belongs to the helper: when the turn comes at last it closes the fd at once, giving the
    turn back. (Only the helper closes it: a number closed here could be reused by then for another file.)
    """
    acquired, decided = threading.Event(), threading.Lock()
    abandoned = []

    def wait():
        fcntl.flock(fd, fcntl.LOCK_EX)
        with decided:
            if abandoned:
                os.close(fd)
            else:
                acquired.set()

    threading.Thread(target=wait, name="sqlite-writer-turn", daemon=True).start()
    try:
        acquired.wait(seconds)
    finally:
        with decided:
            if not acquired.is_set():
                abandoned.append(True)
    return acquired.is_set()


def _turns_of_this_thread() -> list[int]:
    """A one-item counter per thread, kept on the connection so a release from elsewhere counts right."""
    if not hasattr(_local, "turns"):
        _local.turns = [0]
    return _local.turns


# SQLite's default: a checkpoint once the WAL holds this many pages not yet copied into the database.
CHECKPOINT_PAGES = 1000
BACKSTOP_PAGES = 4 * CHECKPOINT_PAGES


def _pages_to_checkpoint(shm_fd: int) -> int:
    """Pages in the WAL not yet copied into the database, from the WAL index's header in `<db>-shm`
    (sqlite.org/walformat.html: mxFrame at byte 16, nBackfill at byte 96, native byte order)."""
    header = os.pread(shm_fd, 100, 0)
    if len(header) < 100:
        return 0
    return struct.unpack_from("=I", header, 16)[0] - struct.unpack_from("=I", header, 96)[0]


class TurnTakingConnection(sqlite3.Connection):
    """A pysqlite connection that can take the writer's turn; `turn_path` is set per database."""

    turn_path: str = ""
    shm_path: str = ""
    wait_seconds: float = 15.0
    _turn: int | None = None
    _holder: list[int] | None = None
    _shm: int | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # ours runs after the turn: _checkpoint_if_due

    def take_turn(self) -> None:
        holder = _turns_of_this_thread()
        if self._turn is not None or holder[0]:
            return
        fd = os.open(self.turn_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: taken at once, no thread
        except BlockingIOError:
            if not _wait_for_turn(fd, self.wait_seconds, self.turn_path):
                raise WriterTurnTimeout(f"no writer's turn within {self.wait_seconds:g} s") from None
        except BaseException:
            os.close(fd)
            raise
        self._turn, self._holder = fd, holder
        holder[0] += 1

    def _give_turn(self) -> None:
        fd, self._turn = self._turn, None
        if fd is not None:
            self._holder[0] -= 1
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)  # released before the close that wakes the waiters
            finally:
                os.close(fd)

    def commit(self) -> None:
        wrote = self._turn is not None
        try:
            super().commit()
        finally:
            self._give_turn()
        if wrote:
            self._checkpoint_if_due()

    def _checkpoint_if_due(self) -> None:
        """Checkpoint once the WAL holds CHECKPOINT_PAGES, as SQLite would, but with the turn given back.
        The commit is done whatever happens here: a checkpoint that fails or finds another running is
        left to the next commit."""
        try:
            if self._shm is None:
                self._shm = os.open(self.shm_path, os.O_RDONLY)
            if _pages_to_checkpoint(self._shm) >= CHECKPOINT_PAGES:
                self.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (OSError, sqlite3.Error):
            pass

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_turn()
            shm, self._shm = self._shm, None
            if shm is not None:
                os.close(shm)


def connection_class(database_path: str, wait_seconds: float = 15.0) -> type[TurnTakingConnection]:
    """The pysqlite `factory` for one database file (pass as connect_args["factory"])."""
    return type("TurnTakingConnection", (TurnTakingConnection,),
                {"turn_path": f"{database_path}.writer-turn", "shm_path": f"{database_path}-shm",
                 "wait_seconds": wait_seconds})


def take_turn(dbapi_connection) -> None:
    """Before a writing transaction's BEGIN: wait for the writer's turn (no-op for other connections)."""
    take = getattr(dbapi_connection, "take_turn", None)
    if take is not None:
        take()


# -- one writing request per process -------------------------------------------------------------
# app.extensions key: the writer's wait in seconds, set when the app's SQLite database takes turns.
EXTENSION = "sqlite_writer"
_process_writer = threading.RLock()  # re-entrant: a nested use in the same request does not wait for itself


@contextmanager
def one_writer_per_process():
    """Run the block as this process's only writing request at a time (on a SQLite database that takes
    turns; elsewhere it runs at once). Enter it after the request's body is read, so a slow sender cannot
    hold it, and only around work that calls no other system."""
    wait = current_app.extensions.get(EXTENSION)
    if wait is None or _turns_of_this_thread()[0]:
        # A thread that already holds the writer's turn does not wait here: the one in the place may be
        # waiting for that turn.
        yield
        return
    if not _process_writer.acquire(timeout=wait):
        raise WriterTurnTimeout(f"no writer's place in this process within {wait:g} s")
    try:
        yield
    finally:
        _process_writer.release()


# -- which transactions of a request write ------------------------------------------------------
# `portal._sqlite_begin` starts a request's transactions deferred (read) on GET and HEAD, immediate
# (write, taking the turn) otherwise; the three below adjust that where it is wrong.

# connection.info key: whether the connection's current transaction began as a writer.
BEGAN_AS_WRITER = "sqlite_began_as_writer"


def begins_as_reader() -> bool:
    """Whether a transaction beginning now, in this request, is a reader's (BEGIN, no turn)."""
    if not has_request_context() or g.get("sqlite_write"):
        return False
    if g.get("sqlite_reads_only"):
        return True
    if request.method not in ("GET", "HEAD"):
        return False
    view = current_app.view_functions.get(request.endpoint)
    return not getattr(view, "audited_page", False)


def audited_page(view):
    """For a GET view that audits what it shows (`audit.record_read`): its transactions begin as
    writers, so what it reads and the event that records the reading are one transaction with one
    commit. (A reader's transaction cannot become a writer: SQLite answers SQLITE_BUSY at once when
    another process wrote since it began, so `record_read` would have to commit it first: two commits.)
    The page holds the writer's turn only for its queries and the event, a millisecond or two: once the
    event is committed, what the page still reads while it renders begins as a reader again."""
    view.audited_page = True
    return view


@contextmanager
def writing():
    """Transactions begun inside write (BEGIN IMMEDIATE, with the turn), whatever the method."""
    if not has_request_context():
        yield
        return
    before = g.get("sqlite_write")
    g.sqlite_write = True
    try:
        yield
    finally:
        g.sqlite_write = before


def writes_done() -> None:
    """The request's writing is committed; what follows only reads (renders the result), so it
    begins deferred and leaves the turn to the next writer."""
    if has_request_context():
        g.sqlite_reads_only = True
