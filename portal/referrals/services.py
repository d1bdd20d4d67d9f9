"""Referral intake and screening: the business rules, no Flask request objects."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import Text, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from portal import live
from portal.consultations.services import QUEUE_TOPIC as CONSULTATION_QUEUE_TOPIC, create_consultation
from portal.extensions import db
from portal.i18n import formatting
from portal.patients.models import Patient, full_name
from portal.patients.services import add_unless_known, referral_patient_row
from portal.referrals import intake
from portal.referrals.intake import ReferralIn
from portal.referrals.models import (
    AWAITING,
    CALL_OUTCOMES,
    CONVERTED,
    DECLINED,
    DUPLICATE,
    KEPT,
    STATUS_LABELS,
    UPDATED,
    CallAttempt,
    Referral,
)
from portal.security import audit
from portal.security.crypto import blind_index, encrypt
from portal.security.models import utcnow

QUEUE_TOPIC = "referral-queue"
WEBHOOK_ACTOR = ("system", "referral-webhook")


class ReferralConflict(Exception):
    """The same JournalGuid arrived before with different content."""

    def __init__(self, referral_id: int):
        super().__init__(f"referral {referral_id} exists with different content")
        self.referral_id = referral_id


class AlreadyHandled(Exception):
    """Someone else converted or declined this referral first."""


class InvalidAction(ValueError):
    pass


def _fingerprint(incoming: ReferralIn) -> str:
    return blind_index("referral.payload", incoming.canonical)


def _existing(journal_guid: str) -> Referral | None:
    return db.session.scalar(select(Referral).where(Referral.journal_guid == journal_guid))


def _replay_or_conflict(existing: Referral, incoming: ReferralIn) -> tuple[int, bool]:
    if existing.payload_fingerprint != _fingerprint(incoming):
        raise ReferralConflict(existing.id)
    return existing.id, False


def receive_referral(incoming: ReferralIn) -> tuple[int, bool]:
    """Store a referral, or recognise a replay of one. Returns (referral id, created).

    On SQLite every writer waits for the one holding the writer's turn, so the rows are built first
    (sealed, indexed, stamped) and the transaction, which takes the turn, only runs the statements: the
    patient's INSERT (nothing when known), the referral's, the audit event, the commit. The referral
    finds its patient by national-id index inside its own INSERT, new or known, so there is no look-up.
    Most referrals are new, so the JournalGuid is not looked up first either: its unique key refuses a
    replay at the INSERT, and only then is the stored one read (a patient this request created for a
    replay with other content is rolled back with the request's transaction)."""
    patient = referral_patient_row(
        fodselsnummer=incoming.fodselsnummer, first_name=incoming.first_name, last_name=incoming.last_name,
        email=incoming.email, phone=incoming.phone, phone_needs_check=incoming.phone_needs_check,
    )
    referral = {
        "journal_guid": incoming.journal_guid, "patient_index": patient["national_id_index"],
        "format_id": incoming.format_id, "message_timestamp": incoming.message_timestamp,
        "payload": encrypt(incoming.canonical, _PAYLOAD_PURPOSE), "payload_fingerprint": _fingerprint(incoming),
        "phone_needs_check": incoming.phone_needs_check, "status": AWAITING, "received_at": patient["created_at"],
        "call_attempt_count": 0,
    }
    add_unless_known(patient)
    stored = db.session.connection().execute(_insert_referral(db.session.get_bind().dialect.name), referral).first()
    if stored is None:
        # A replay, or the same JournalGuid stored by a concurrent request: the first one wins (this
        # request's transaction, with any patient it created, is rolled back when it ends).
        return _replay_or_conflict(_existing(incoming.journal_guid), incoming)
    referral_id, patient_id = stored
    audit.record_and_commit("referral.received", subject=("Referral", referral_id), patient_id=patient_id,
                            actor=WEBHOOK_ACTOR)
    live.bump_coalesced(QUEUE_TOPIC)  # referrals come in bursts; the queue's pages ask once a second
    return referral_id, True


_PAYLOAD_PURPOSE = Referral.__table__.c.payload.type.purpose


@lru_cache(maxsize=2)
def _insert_referral(dialect_name: str):
    """INSERT … ON CONFLICT DO NOTHING RETURNING (id, patient_id), the patient found by its index in the same
    statement; the payload arrives sealed and is bound as plain text (its EncryptedText would seal it again)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    patient_id = select(Patient.id).where(Patient.national_id_index == bindparam("patient_index")).scalar_subquery()
    return (dialect.insert(Referral.__table__)
            .values(patient_id=patient_id, payload=bindparam("payload", type_=Text()))
            .on_conflict_do_nothing().returning(Referral.id, Referral.patient_id))


@dataclass(frozen=True)
class QueueRow:
    """One line of the screening queue, read as plain columns: what the list shows. Loading whole
    referrals with their patients was a fifth of a queue request."""

    id: int
    patient_id: int
    received_at: datetime
    call_attempt_count: int
    first_name: str
    last_name: str
    phone: str | None
    phone_needs_check: bool
    open_for_patient: int  # referrals of this patient awaiting screening, this one included

    @property
    def patient_name(self) -> str:
        return full_name(self.first_name, self.last_name)


@dataclass
class QueuePage:
    referrals: list[QueueRow]
    page: int
    pages: int
    total: int
    more: bool = False  # there are more than `total` (the count stopped at QUEUE_COUNT_CAP)


MAX_QUEUE_PAGE = 100_000
# Counting stops here, as the doctors' queue's does: the count is on every render and poll, and beyond a
# thousand the exact number helps no one (counting 10k waiting referrals was ~0.5 ms, a third of hello-world).
QUEUE_COUNT_CAP = 1000
_OTHER = aliased(Referral)


def _queue_statement(shown: list, total):
    """The page, the number waiting (`total`, a count of its own: `.correlate(None)`) and each row's open
    referrals of the same patient, in one statement: a page once took three, and each statement costs the
    server more in SQLAlchemy than in the database."""
    open_for_patient = (select(func.count(_OTHER.id))
                        .where(_OTHER.patient_id == Referral.patient_id, _OTHER.status == AWAITING).scalar_subquery())
    return (select(Referral.id, Referral.patient_id, Referral.received_at, Referral.call_attempt_count,
                   Patient.first_name, Patient.last_name, Patient.phone, Patient.phone_needs_check,
                   open_for_patient, total.correlate(None).scalar_subquery())
            .join(Patient, Patient.id == Referral.patient_id).where(*shown)
            .order_by(Referral.received_at, Referral.id).limit(bindparam("limit")).offset(bindparam("offset")))


def _counted(ids):
    return select(func.count()).select_from(ids.limit(QUEUE_COUNT_CAP + 1).subquery())


# Every referral has its patient (NOT NULL foreign key), so without a search the join adds nothing to the
# count; counting the status index alone skips two row lookups per referral (10k waiting: ~0.4 ms instead
# of ~16 ms on SQLite).
_WAITING = _counted(select(Referral.id).where(Referral.status == AWAITING))
_QUEUE = _queue_statement([Referral.status == AWAITING], _WAITING)


def screening_queue(search: str = "", page: int = 1, per_page: int = 25) -> QueuePage:
    """Referrals awaiting screening, oldest first, optionally narrowed by name or phone. The list shows
    names and phones only: the sealed columns (payload, national id) stay unread."""
    statement, count = _QUEUE, _WAITING
    search = search.strip()
    if search:
        like = f"%{search.lower()}%"
        digits = "".join(ch for ch in search if ch.isdigit())
        conditions = [func.lower(Patient.first_name + " " + Patient.last_name).like(like)]
        if len(digits) >= 3:
            conditions.append(Patient.phone.like(f"%{digits}%"))
        shown = [Referral.status == AWAITING, or_(*conditions)]
        count = _counted(select(Referral.id).join(Patient, Patient.id == Referral.patient_id).where(*shown))
        statement = _queue_statement(shown, count)

    def rows_of(page: int) -> list:
        # Plain columns on the session's connection: the ORM's execution layer adds ~50 us, nothing here.
        return db.session.connection().execute(statement, {"limit": per_page, "offset": (page - 1) * per_page}).all()

    page = min(max(page, 1), MAX_QUEUE_PAGE)
    rows = rows_of(page)
    counted = rows[0][-1] if rows else db.session.scalar(count) if page > 1 else 0
    total, more = min(counted, QUEUE_COUNT_CAP), counted > QUEUE_COUNT_CAP
    pages = max(1, -(-total // per_page))
    if page > pages:  # past the last page (the list shrank meanwhile, or an old link): show the last one
        page = pages
        rows = rows_of(page)
    return QueuePage([QueueRow(*row[:-1]) for row in rows], page, pages, total, more)


def get_referral(referral_id: int) -> Referral | None:
    return db.session.get(Referral, referral_id, options=[joinedload(Referral.patient)])


def log_call_attempt(referral: Referral, *, outcome: str, note: str | None, by_id: int) -> CallAttempt:
    if outcome not in CALL_OUTCOMES:
        raise InvalidAction(_("choose what happened on the call"))
    counted = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.status == AWAITING)
        .values(call_attempt_count=Referral.call_attempt_count + 1)
    ).rowcount
    if counted != 1:
        db.session.rollback()
        raise AlreadyHandled()
    attempt = CallAttempt(referral_id=referral.id, outcome=outcome, note=note or None, by_id=by_id)
    db.session.add(attempt)
    audit.record("referral.call_logged", subject=referral, patient_id=referral.patient_id, outcome=outcome)
    db.session.commit()
    db.session.refresh(referral)
    live.bump(QUEUE_TOPIC)
    return attempt


def _take(referral: Referral, status: str, by_id: int, **values) -> None:
    """Move a referral out of the queue, or raise AlreadyHandled when someone else did first."""
    taken = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.status == AWAITING)
        .values(status=status, handled_at=utcnow(), handled_by_id=by_id, **values)
    ).rowcount
    if taken != 1:
        db.session.rollback()
        raise AlreadyHandled()


def convert_to_consultation(referral: Referral, *, enabled_channels: list[str], primary_channel: str,
                            category: str, options: dict, by_id: int):
    """Turn a referral into a consultation in the doctors' queue: once, whoever clicks first."""
    _take(referral, CONVERTED, by_id)
    try:
        consultation = create_consultation(
            patient_id=referral.patient_id, source="referral", referral_id=referral.id,
            enabled_channels=enabled_channels, primary_channel=primary_channel, category=category,
            options=options, created_by_id=by_id,
        )
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AlreadyHandled() from None
    except ValueError as exc:
        db.session.rollback()
        raise InvalidAction(str(exc)) from None
    audit.record("referral.converted", subject=referral, patient_id=referral.patient_id,
                 consultation_id=consultation.id)
    db.session.commit()
    db.session.refresh(referral)
    live.bump(QUEUE_TOPIC)
    live.bump(CONSULTATION_QUEUE_TOPIC)
    return consultation


def decline_referral(referral: Referral, *, reason: str, by_id: int) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidAction(_("give a reason for declining"))
    _take(referral, DECLINED, by_id, decline_reason=reason[:500])
    audit.record("referral.declined", subject=referral, patient_id=referral.patient_id)
    db.session.commit()
    db.session.refresh(referral)
    live.bump(QUEUE_TOPIC)


# --- what the referral system sent, beside the patient record ----------------------------------------

@dataclass(frozen=True)
class SentDetail:
    """One detail (name, phone or e-mail) as sent with a referral, beside the patient record's."""
    field: str
    label: str
    on_record: str | None
    as_sent: str
    choice: str | None  # UPDATED, KEPT, or None while the secretary has not chosen
    record_needs_check: bool = False  # phone only: each number's badge is judged on that number
    sent_needs_check: bool = False


SENT_FIELDS = {"name": _l("Name"), "phone": _l("Phone"), "email": _l("E-mail")}


def _as_sent(referral: Referral) -> ReferralIn | None:
    """The referral exactly as the referral system sent it (its sealed payload, valid on arrival), or
    None for one whose payload does not read as a referral (one made by other means than the webhook)."""
    try:
        return intake.parse_referral((referral.payload or "").encode())
    except intake.InvalidReferral:
        return None


def sent_details(referral: Referral) -> list[SentDetail]:
    """The details this referral sent that differ from the patient record, or that the secretary has
    already chosen about. Nothing sent is lost: a detail the record does not take stays in the payload."""
    sent, patient = _as_sent(referral), referral.patient
    if sent is None:
        return []
    candidates = [
        ("name", patient.full_name, f"{sent.first_name} {sent.last_name}",
         (patient.first_name, patient.last_name) != (sent.first_name, sent.last_name), {}),
        ("phone", patient.phone, sent.phone, patient.phone != sent.phone,
         {"record_needs_check": patient.phone_needs_check, "sent_needs_check": sent.phone_needs_check}),
        ("email", patient.email, sent.email,
         bool(sent.email) and (patient.email or "").casefold() != sent.email.casefold(), {}),
    ]
    details = []
    for field, on_record, as_sent, differs, flags in candidates:
        choice = getattr(referral, f"sent_{field}_choice")
        if differs or choice:
            details.append(SentDetail(field, SENT_FIELDS[field], on_record, as_sent, choice, **flags))
    return details


def choose_sent_detail(referral: Referral, *, field: str, choice: str, by_id: int) -> None:
    """The secretary's choice for one sent detail: UPDATED copies it into the patient record (audited
    with the field's name, never its value), KEPT leaves the record as it is."""
    if field not in SENT_FIELDS or choice not in (UPDATED, KEPT):
        raise InvalidAction(_("choose a detail and whether to update the record or keep it"))
    patient = referral.patient
    if choice == UPDATED:
        sent = _as_sent(referral)
        if sent is None:
            raise InvalidAction(_("this referral holds no details as sent"))
        if field == "name":
            patient.first_name, patient.last_name = sent.first_name, sent.last_name
        elif field == "phone":
            patient.phone, patient.phone_needs_check = sent.phone, sent.phone_needs_check
        elif sent.email:
            patient.email = sent.email
        else:
            raise InvalidAction(_("this referral sent no e-mail"))
        audit.record("patient.details_updated", subject=patient, patient_id=patient.id, fields=[field],
                     from_referral=referral.id)
    else:
        audit.record("referral.sent_detail_kept", subject=referral, patient_id=patient.id, field=field)
    setattr(referral, f"sent_{field}_choice", choice)
    db.session.commit()
    live.bump(QUEUE_TOPIC)


# --- more than one referral for the same patient ------------------------------------------------------

@dataclass(frozen=True)
class OtherReferral:
    id: int
    status: str
    received_at: datetime

    @property
    def label(self) -> str:
        """'Referral 7, received 7 Feb 2030, 09:05 (awaiting screening)': the install's zone, as the queue's times."""
        return _("Referral %(id)s, received %(at)s (%(status)s)", id=self.id, at=formatting.when(self.received_at),
                 status=STATUS_LABELS.get(self.status, self.status))


def open_referrals_by_patient(patient_ids: list[int]) -> dict[int, list[OtherReferral]]:
    """Every referral awaiting screening for these patients, oldest first: one indexed query per page."""
    grouped: dict[int, list[OtherReferral]] = defaultdict(list)
    if not patient_ids:
        return grouped
    rows = db.session.execute(
        select(Referral.patient_id, Referral.id, Referral.status, Referral.received_at)
        .where(Referral.patient_id.in_(set(patient_ids)), Referral.status == AWAITING)
        .order_by(Referral.received_at, Referral.id))
    for patient_id, *other in rows:
        grouped[patient_id].append(OtherReferral(*other))
    return grouped


def other_referrals(referral: Referral) -> list[OtherReferral]:
    """The patient's other referrals, whatever their status, newest first."""
    rows = db.session.execute(
        select(Referral.id, Referral.status, Referral.received_at)
        .where(Referral.patient_id == referral.patient_id, Referral.id != referral.id)
        .order_by(Referral.received_at.desc(), Referral.id.desc()))
    return [OtherReferral(*row) for row in rows]


def mark_duplicate(referral: Referral, *, of_id: int, by_id: int) -> None:
    """Close an open referral as a duplicate of another of the same patient's referrals (audited).

    It leaves the queue but stays whole (payload, calls, sent details) and points at the one it repeats.
    Both rows are locked first (in id order), so two secretaries marking two referrals duplicates of
    each other at once cannot close both: the second finds the other already a duplicate.
    """
    rows = dict(db.session.execute(
        select(Referral.id, Referral.status).where(Referral.id.in_({referral.id, of_id}),
                                                   Referral.patient_id == referral.patient_id)
        .order_by(Referral.id).with_for_update()).all())
    if of_id == referral.id or of_id not in rows:
        db.session.rollback()
        raise InvalidAction(_("choose another referral of the same patient"))
    if rows[of_id] == DUPLICATE:
        db.session.rollback()
        raise InvalidAction(_("that referral is itself a duplicate; choose the one it repeats"))
    _take(referral, DUPLICATE, by_id, duplicate_of_id=of_id)
    audit.record("referral.marked_duplicate", subject=referral, patient_id=referral.patient_id, duplicate_of=of_id)
    db.session.commit()
    db.session.refresh(referral)
    live.bump(QUEUE_TOPIC)
