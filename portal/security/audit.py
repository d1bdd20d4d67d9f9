"""The audit log: the one place that writes audit events.

An event joins the caller's transaction, so an action and its audit record are committed
(or rolled back) together. Reads of patient data have no other write to join, so
`record_read` commits on its own.
"""

from flask import g, has_request_context
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
    """Audit a read, durably, before the response goes out. The read transaction ends first, so the
    write starts a fresh one (on SQLite a read transaction that turns into a write can fail when
    another process wrote); that one begins as a writer, so it waits its turn instead of failing.

    The event is the transaction's only write, so it is chained (the same `audit_chain.chain` a flush
    uses) and stored with one INSERT instead of passing through the ORM's unit of work, which was a
    third of an audited read's cost (and most pages are audited reads)."""
    db.session.commit()
    with sqlite_writer.writing():
        event = _event(action, subject, patient_id, actor, details)
        audit_chain.chain(db.session, [event])
        db.session.execute(_INSERT_EVENT, {column: getattr(event, column) for column in _EVENT_COLUMNS})
        db.session.commit()


_EVENT_COLUMNS = [c.key for c in AuditEvent.__table__.columns if not c.primary_key]
_INSERT_EVENT = insert(AuditEvent.__table__)
