"""Hash chain over the audit log: append-only, tamper-evident.

Every new AuditEvent gets the next `seq`, the hash of the event before it (`prev_hash`) and
`hash` = SHA-256 over its canonical content plus `prev_hash`. The head row (audit_chain_head,
id 1) holds the last seq and hash; an append first *updates* that row, which takes the write
lock on SQLite and a row lock on PostgreSQL, so appends from any number of processes are
serialised and the head is read only after the lock is held. The lock lasts until the caller's
transaction ends, so audited actions serialise on their commit; events are small and rare
enough for that. The INSERT of a chained event moves the head on to it (a trigger, migration
0019), in the same statement: the caller inserts the events `chain` linked, in that transaction.

`verify()` walks the chain in seq order: an edited event no longer matches its hash, a deleted
one leaves a gap (and a broken prev_hash), a deleted last event no longer matches the head.
The ORM refuses to update or delete audit events; tampering needs raw SQL, which verify finds.
"""

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.orm import Session

from portal.security.models import AuditChainHead, AuditEvent, utcnow

GENESIS = "0" * 64


class AuditLogIsAppendOnly(RuntimeError):
    pass


def canonical(ev: AuditEvent) -> bytes:
    content = {
        "seq": ev.seq,
        "at": ev.at.isoformat(timespec="microseconds") if ev.at else None,
        "actor_type": ev.actor_type,
        "actor_id": ev.actor_id,
        "action": ev.action,
        "subject_type": ev.subject_type,
        "subject_id": ev.subject_id,
        "patient_id": ev.patient_id,
        "request_id": ev.request_id,
        "details": ev.details or {},
        "prev_hash": ev.prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_hash(ev: AuditEvent) -> str:
    return hashlib.sha256(canonical(ev)).hexdigest()


# Built once: a fresh text() per append cost a compile-cache lookup each time. Taking the lock
# and reading the head is one statement (UPDATE … RETURNING: PostgreSQL, SQLite 3.35+), so the
# head is still read only once its lock is held.
_LOCK_HEAD = text("UPDATE audit_chain_head SET last_seq = last_seq WHERE id = 1 RETURNING last_seq, last_hash")
_CREATE_HEAD = text("INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, 0, :h) "
                    "ON CONFLICT (id) DO NOTHING")


def _lock_head(conn) -> tuple[int, str]:
    row = conn.execute(_LOCK_HEAD).first()
    if row is None:
        # First event ever: create the head; a concurrent first writer makes this a no-op.
        conn.execute(_CREATE_HEAD, {"h": GENESIS})
        row = conn.execute(_LOCK_HEAD).one()
    return row[0], row[1]


def chain(session: Session, events: list[AuditEvent]) -> None:
    """Link new `events` (in the order given) after the head, in the session's transaction: the head stays
    locked until it ends, and their INSERT moves it on (the trigger of migration 0019)."""
    conn = session.connection()
    seq, last = _lock_head(conn)
    for ev in events:
        seq += 1
        if ev.at is None:
            ev.at = utcnow()
        if ev.details is None:
            ev.details = {}
        ev.seq = seq
        ev.prev_hash = last
        ev.hash = last = event_hash(ev)


@event.listens_for(Session, "before_flush")
def _chain_new_events(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("audit events cannot be changed or deleted")
    new = [obj for obj in session.new if isinstance(obj, AuditEvent) and obj.hash is None]
    if not new:
        return
    new.sort(key=lambda obj: inspect(obj).insert_order)
    chain(session, new)


@dataclass
class VerifyResult:
    checked: int = 0
    before_chain: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, batch: int = 1000) -> VerifyResult:
    """Check the whole chain, streaming it in seq order."""
    result = VerifyResult()
    expected_seq, expected_prev = 1, GENESIS
    last_seq = 0
    # Events written before the chain existed (migration 0006) have no seq: reported, not verifiable.
    # An unchained event newer than the first chained one was added behind the chain's back.
    first_chained = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.seq.is_not(None)))
    unchained = select(AuditEvent.id).where(AuditEvent.seq.is_(None))
    result.before_chain = session.scalar(select(func.count()).select_from(unchained.subquery())) or 0
    if first_chained is not None:
        intruder = session.scalar(unchained.where(AuditEvent.id > first_chained).limit(1))
        if intruder is not None:
            result.problems.append(f"event id {intruder} was inserted outside the chain")
            result.before_chain -= 1
    while True:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.seq >= expected_seq)
                               .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != expected_seq:
                result.problems.append(f"events {expected_seq}..{ev.seq - 1} are missing (deleted)")
            if ev.prev_hash != expected_prev:
                result.problems.append(f"event seq {ev.seq} does not follow the event before it")
            if event_hash(ev) != ev.hash:
                result.problems.append(f"event seq {ev.seq} (id {ev.id}) was changed after it was written")
            result.checked += 1
            expected_seq, expected_prev, last_seq = ev.seq + 1, ev.hash, ev.seq
        session.expunge_all()
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.last_seq != last_seq or head.last_hash != expected_prev):
        result.problems.append(f"the chain ends at seq {last_seq} but its head says {head.last_seq}: "
                               "the last events were deleted")
    return result
