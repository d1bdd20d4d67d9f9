"""The audit log: the one place that writes audit events.

An event joins the caller's transaction, so an action and its audit record are committed
(or rolled back) together. A read of patient data joins the request's transaction too, and
`record_read` commits it: the event is stored before the page goes out.
"""

from types import SimpleNamespace

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import insert

from portal import sqlite_writer
from portal.extensions import db
from portal.security import audit_chain  # also registers the hash-chain flush hook
from portal.security.models import AuditEvent


def _actor() -> tuple[str, str | None]:
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        # get_id() is "<kind>:<id>" (staff or partner), so partner actions are never filed as staff.
        kind, _, raw_id = current_user.get_id().partition(":")
        return kind, raw_id
    return "system", None


def _fields(action: str, subject, patient_id: int | None, actor: tuple[str, str | None] | None,
            details: dict) -> dict:
    actor_type, actor_id = actor or _actor()
    if isinstance(subject, tuple):  # ("Referral", 7): a row written without loading it
        subject_type, subject_id = subject
    else:
        subject_type, subject_id = (type(subject).__name__, subject.id) if subject is not None else (None, None)
    return {
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id) if subject_id is not None else None,
        "patient_id": patient_id,
        "request_id": g.get("request_id") if has_request_context() else None,
        "details": details,
    }


def _event(action: str, subject, patient_id: int | None, actor: tuple[str, str | None] | None,
           details: dict) -> SimpleNamespace:
    """The event's columns as `audit_chain.chain` and the INSERT take them, without an ORM instance."""
    return SimpleNamespace(at=None, seq=None, prev_hash=None, hash=None,
                           **_fields(action, subject, patient_id, actor, details))


def record(action: str, *, subject=None, patient_id: int | None = None, actor: tuple[str, str | None] | None = None,
           **details) -> AuditEvent:
    event = AuditEvent(**_fields(action, subject, patient_id, actor, details))
    db.session.add(event)
    return event


def record_read(action: str, *, subject=None, patient_id: int | None = None,
                actor: tuple[str, str | None] | None = None, **details) -> None:
    """Audit a read, durably, before the response goes out: the event joins the request's transaction
    and is committed with it, so what was read and the record of reading it are one commit.

    On SQLite a transaction that began as a reader cannot safely become a writer (it fails at once
    when another process wrote since it began), so such a transaction is committed first and the event
    gets a writer's transaction of its own, as all audited reads did before: two commits. A GET view
    marked `sqlite_writer.audited_page` begins as a writer and keeps to one. PostgreSQL always does.

    The event is chained (the same `audit_chain.chain` a flush uses) and stored with one INSERT
    instead of passing through the ORM's unit of work, which was a third of an audited read's cost."""
    event = _event(action, subject, patient_id, actor, details)
    with sqlite_writer.writing():
        if not _transaction_may_write():
            db.session.commit()
        _store_and_commit(event)
    if has_request_context() and request.method in ("GET", "HEAD"):
        sqlite_writer.writes_done()  # the page's one write is done: rendering it holds no writer's turn


def record_and_commit(action: str, *, subject=None, patient_id: int | None = None,
                      actor: tuple[str, str | None] | None = None, **details) -> None:
    """`record`, then commit the caller's (writing) transaction with the event in it. `subject` may be
    the object or ("Type", id) for a row written without loading it."""
    _store_and_commit(_event(action, subject, patient_id, actor, details))


def pending(action: str, *, subject=None, patient_id: int | None = None,
            actor: tuple[str, str | None] | None = None, **details) -> SimpleNamespace:
    """An event to store with `commit_with` (for a job that writes many in one commit without the ORM)."""
    return _event(action, subject, patient_id, actor, details)


def commit_with(events: list[SimpleNamespace]) -> None:
    """Chain `events` (from `pending`, in order), insert them with one statement and commit the caller's
    (writing) transaction with them."""
    if events:
        audit_chain.chain(db.session, events)
        # One event (an audited read) as a single execute: a list of one would take executemany's path.
        rows = vars(events[0]) if len(events) == 1 else [vars(event) for event in events]
        db.session.connection().execute(_INSERT_EVENT, rows)
    db.session.commit()


def _store_and_commit(event: SimpleNamespace) -> None:
    commit_with([event])


def _transaction_may_write() -> bool:
    """False only for a SQLite transaction that began as a reader (see `portal._sqlite_begin`)."""
    if not db.session().in_transaction():
        return True  # the next one begins inside `writing()`: as a writer
    connection = db.session.connection()
    return connection.dialect.name != "sqlite" or connection.info.get(sqlite_writer.BEGAN_AS_WRITER, False)


_INSERT_EVENT = insert(AuditEvent.__table__)
