"""The audit log: the one place that writes audit events.

An event joins the caller's transaction, so an action and its audit record are committed
(or rolled back) together. Reads of patient data have no other write to join, so
`record_read` commits on its own.
"""

from flask import g, has_request_context
from flask_login import current_user

from portal import sqlite_writer
from portal.extensions import db
from portal.security.models import AuditEvent
from portal.security import audit_chain  # noqa: F401  (registers the hash-chain flush hook)


def _actor() -> tuple[str, str | None]:
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        # get_id() is "<kind>:<id>" (staff or partner), so partner actions are never filed as staff.
        kind, _, raw_id = current_user.get_id().partition(":")
        return kind, raw_id
    return "system", None


def record(action: str, *, subject=None, patient_id: int | None = None, actor: tuple[str, str | None] | None = None,
           **details) -> AuditEvent:
    actor_type, actor_id = actor or _actor()
    event = AuditEvent(
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        subject_type=type(subject).__name__ if subject is not None else None,
        subject_id=str(subject.id) if subject is not None else None,
        patient_id=patient_id,
        request_id=g.get("request_id") if has_request_context() else None,
        details=details,
    )
    db.session.add(event)
    return event


def record_read(action: str, *, subject=None, patient_id: int | None = None,
                actor: tuple[str, str | None] | None = None, **details) -> None:
    """Audit a read, durably, before the response goes out. The read transaction ends first, so the
    write starts a fresh one (on SQLite a read transaction that turns into a write can fail when
    another process wrote); that one begins as a writer, so it waits its turn instead of failing."""
    db.session.commit()
    with sqlite_writer.writing():
        record(action, subject=subject, patient_id=patient_id, actor=actor, **details)
        db.session.commit()
