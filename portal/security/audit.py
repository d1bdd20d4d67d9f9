"""The audit log: the one place that writes audit events.

An event joins the caller's transaction, so an action and its audit record are committed
(or rolled back) together. Reads of patient data have no other write to join, so
`record_read` commits on its own.
"""

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import event, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

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


def _event(action: str, subject, patient_id: int | None, actor: tuple[str, str | None] | None,
           details: dict) -> AuditEvent:
    actor_type, actor_id = actor or _actor()
    return AuditEvent(
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        subject_type=type(subject).__name__ if subject is not None else None,
        subject_id=str(subject.id) if subject is not None else None,
        patient_id=patient_id,
        request_id=g.get("request_id") if has_request_context() else None,
        details=details,
    )


def record(action: str, *, subject=None, patient_id: int | None = None, actor: tuple[str, str | None] | None = None,
           **details) -> AuditEvent:
    event = _event(action, subject, patient_id, actor, details)
    db.session.add(event)
    return event


def record_read(action: str, *, subject=None, patient_id: int | None = None,
                actor: tuple[str, str | None] | None = None, **details) -> None:
    """Audit a read, durably, before the response goes out, in a transaction of its own that begins
    as a writer (it waits its turn instead of failing: on SQLite a read transaction that turns into a
    write fails when another process wrote since it began).

    In a request that only reads (a GET, or after `sqlite_writer.writes_done`) the event is written
    on a connection of its own and the page's read transaction is left open: one commit per audited
    page instead of two (committing the read transaction first was ~0.2 ms of ORM work for nothing,
    bench/request_cost.py). Otherwise, or when the session has written, its transaction is committed
    first, as before. The event is the transaction's only write, so it is chained and stored with one
    INSERT instead of passing through the ORM's unit of work (a third of an audited read's cost)."""
    event = _event(action, subject, patient_id, actor, details)
    with sqlite_writer.writing():
        if _session_only_read():
            with db.engine.begin() as conn:
                audit_chain.chain_on(conn, [event])
                conn.execute(_INSERT_EVENT, {column: getattr(event, column) for column in _EVENT_COLUMNS})
            return
        db.session.commit()
        audit_chain.chain(db.session, [event])
        db.session.execute(_INSERT_EVENT, {column: getattr(event, column) for column in _EVENT_COLUMNS})
        db.session.commit()


def _session_only_read() -> bool:
    """True when the session's transaction is a reading request's and has written nothing, so another
    connection of this thread may write without waiting on a lock the session holds (SQLite's write
    lock, or the chain head's row lock on PostgreSQL)."""
    if not has_request_context():
        return False
    if request.method not in ("GET", "HEAD") and not g.get("sqlite_reads_only"):
        return False
    session = db.session()
    if session.new or session.dirty or session.deleted:
        return False
    transaction = session.get_transaction()
    return transaction is None or session.info.get(_WROTE) is not transaction


# session.info key: the transaction in which the session last flushed or executed anything but a SELECT.
_WROTE = "wrote_in"


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _flush_context) -> None:
    session.info[_WROTE] = session.get_transaction()


@event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    if state.is_select:
        return
    if isinstance(state.statement, TextClause) and state.statement.text.lstrip()[:7].upper() == "SELECT ":
        return  # a hand-written read (the doctors' queue names its index)
    state.session.info[_WROTE] = state.session.get_transaction()


_EVENT_COLUMNS = [c.key for c in AuditEvent.__table__.columns if not c.primary_key]
_INSERT_EVENT = insert(AuditEvent.__table__)
