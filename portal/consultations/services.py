"""Consultation life cycle. Views and jobs call these; none of them touches a request.

Every state change is one conditional UPDATE (`… WHERE state IN (…)`), so when two people act
at once the database lets exactly one through and the other is told what happened instead.
"""

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal import live
from portal.consultations import events, tokens
from portal.consultations.clients import ChatKeyServiceClient, ServiceUnavailable, VideoServiceClient
from portal.consultations.models import (
    CANCELLED,
    CATEGORIES,
    CHANNELS,
    COMPLETED,
    IN_PROGRESS,
    OPEN_CONDITION,
    OPEN_STATES,
    PENDING,
    READY,
    SCHEDULED,
    ChatMessage,
    ChatRoom,
    Consultation,
    ConsultationFacts,
    PatientLink,
    Review,
    VideoRoom,
)
from portal.extensions import db
from portal.i18n.languages import speaking
from portal.notifications import services as outbox
from portal.ops import metrics
from portal.patients.models import Patient, full_name
from portal.security import audit, patient_check
from portal.security.models import StaffUser, utcnow
from portal.security.patient_check import IdentityLocked

_CODE_ALPHABET = string.ascii_uppercase + string.digits
QUEUE_TOPIC = "consultation-queue"
MAX_CHAT_MESSAGE = 2000

__all__ = ["IdentityLocked", "ServiceUnavailable"]


class InvalidConsultation(ValueError):
    pass


class NotAllowedNow(Exception):
    """The operation is not allowed from the consultation's current state (HTTP 409)."""


class AlreadyTaken(NotAllowedNow):
    pass


def consultation_topic(consultation_id: int) -> str:
    return f"consultation:{consultation_id}"


def chat_topic(consultation_id: int) -> str:
    return f"consultation-chat:{consultation_id}"


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


SOURCES = ("referral", "direct", "follow_up")


def create_consultation(*, patient_id: int, source: str, enabled_channels: list[str], primary_channel: str,
                        category: str = "insurance", options: dict | None = None, referral_id: int | None = None,
                        created_by_id: int | None = None, insurer_id: int | None = None,
                        queue_from: datetime | None = None, doctor_id: int | None = None,
                        follow_up_of_id: int | None = None) -> Consultation:
    """A new consultation in `ready_for_pickup`, added to the caller's transaction.

    An insurance consultation is served for `insurer_id`, or else for the default insurer (orders).
    With `queue_from` it is `scheduled` until then (`release_due_consultations` moves it into the queue),
    for `doctor_id` alone when given, else for any doctor.
    """
    channels = [c for c in CHANNELS if c in set(enabled_channels)]
    if not channels:
        raise InvalidConsultation(_("choose at least one channel"))
    if primary_channel not in channels:
        raise InvalidConsultation(_("the primary channel must be one of the enabled channels"))
    if category not in CATEGORIES:
        raise InvalidConsultation("unknown category")
    if source not in SOURCES:
        raise InvalidConsultation("unknown source")
    consultation = Consultation(
        code=new_code(), patient_id=patient_id, referral_id=referral_id, source=source, state=READY,
        category=category, enabled_channels=channels, primary_channel=primary_channel, options=options or {},
        created_by_id=created_by_id, insurer_id=insurer_id, follow_up_of_id=follow_up_of_id,
    )
    if queue_from is not None:
        # Its queue time is its created_at: the queue's order, waiting time and dashboards count from there.
        consultation.state, consultation.created_at, consultation.service_provider_id = (
            SCHEDULED, queue_from, doctor_id)
    events.consultation_creating.send(consultation)
    db.session.add(consultation)
    return consultation


_WITH_PATIENT = [joinedload(Consultation.patient)]


# What the chat's poll and post need of a consultation, read as a row (no ORM instance): the policy's
# ids, the state a post checks, the ids its tokens and audit events name. The chat's statements run on the
# session's connection (same transaction): through Session.execute, the ORM's execution layer took ~130
# Python calls a statement to hand back the same rows.
_CHAT_CONSULTATION = select(Consultation.id, Consultation.patient_id, Consultation.state,
                            Consultation.service_provider_id).where(Consultation.id == bindparam("id"))


def chat_consultation(consultation_id: int):
    """The consultation as the chat needs it (a row: id, patient_id, state, service_provider_id), or None."""
    return db.session.connection().execute(_CHAT_CONSULTATION, {"id": consultation_id}).first()


def get_consultation(consultation_id: int, *, with_patient: bool = True) -> Consultation | None:
    """With the patient joined in, as pages show them. Polls, which mostly answer 204, leave the
    patient out: joining it opened the patient's sealed columns on every poll, every second."""
    return db.session.get(Consultation, consultation_id, options=_WITH_PATIENT if with_patient else None)


# -- state changes ---------------------------------------------------------------------------

# Why a change of state is refused, by the state the consultation is in now: the end of a sentence that
# starts with what was refused (_CANNOT).
_REFUSALS = {
    SCHEDULED: _l("it is booked for later and not in the queue yet"),
    READY: _l("it is waiting in the queue and has no doctor yet"),
    PENDING: _l("it has been taken by a doctor but not started"),
    IN_PROGRESS: _l("it is already in progress"),
    COMPLETED: _l("it is already completed"),
    CANCELLED: _l("it was cancelled"),
}
_CANNOT = {
    "assigned": _l("This consultation cannot be assigned"),
    "picked": _l("This consultation cannot be picked"),
    "started": _l("This consultation cannot be started"),
    "finished": _l("This consultation cannot be finished"),
    "cancelled": _l("This consultation cannot be cancelled"),
}


def _cannot(action: str, why) -> str:
    return _("%(refused)s: %(why)s.", refused=_CANNOT[action], why=why)


def _refuse(consultation_id: int, action: str, lost_race: bool = False):
    db.session.rollback()
    current = db.session.get(Consultation, consultation_id, populate_existing=True)
    why = _REFUSALS.get(current.state, current.state) if current else _("it no longer exists")
    error = AlreadyTaken if lost_race else NotAllowedNow
    raise error(_cannot(action, why))


def _transition(consultation: Consultation, from_states, action: str, *, doctor_id: int | None = None,
                unassigned: bool = False, **values) -> None:
    """Move the consultation on if it is still in one of `from_states`, or raise NotAllowedNow."""
    query = update(Consultation).where(Consultation.id == consultation.id, Consultation.state.in_(from_states))
    if doctor_id is not None:
        query = query.where(Consultation.service_provider_id == doctor_id)
    if unassigned:
        query = query.where(Consultation.service_provider_id.is_(None))
    if db.session.execute(query.values(**values)).rowcount != 1:
        current = db.session.get(Consultation, consultation.id, populate_existing=True)
        if current is not None and current.state in from_states and doctor_id is not None:
            db.session.rollback()
            raise NotAllowedNow(_cannot(action, _("it is assigned to another doctor")))
        _refuse(consultation.id, action, lost_race=unassigned)


def _after_change(consultation: Consultation, notifications=()) -> None:
    db.session.commit()
    db.session.refresh(consultation)
    outbox.dispatch(notifications)
    live.bump(QUEUE_TOPIC)
    live.bump(consultation_topic(consultation.id))


def _doctor(doctor_id: int) -> StaffUser:
    doctor = db.session.get(StaffUser, doctor_id)
    if doctor is None or doctor.role != "doctor" or not doctor.active:
        raise InvalidConsultation(_("choose an active doctor"))
    return doctor


ANY_DOCTOR = object()  # assign without checking who held the consultation before


def assign_consultation(consultation: Consultation, *, doctor_id: int, by_id: int,
                        expected_doctor_id=ANY_DOCTOR) -> None:
    """A secretary gives the consultation to a doctor (or to another doctor before it starts).

    `expected_doctor_id` is the doctor the secretary saw on her page (None: nobody). When someone
    else assigned or picked it meanwhile, she is told instead of silently overriding them.
    """
    _doctor(doctor_id)
    first_assignment = consultation.state == READY
    query = update(Consultation).where(Consultation.id == consultation.id, Consultation.state.in_((READY, PENDING)))
    if expected_doctor_id is not ANY_DOCTOR:
        query = query.where(Consultation.service_provider_id.is_(None) if expected_doctor_id is None
                            else Consultation.service_provider_id == expected_doctor_id)
    if db.session.execute(query.values(state=PENDING, service_provider_id=doctor_id,
                                       assigned_at=utcnow())).rowcount != 1:
        _refuse_assignment(consultation.id)
    queued = _invite_to_waiting_room(consultation) if first_assignment else []
    audit.record("consultation.assigned", subject=consultation, patient_id=consultation.patient_id,
                 doctor_id=doctor_id, actor=("staff", str(by_id)))
    _after_change(consultation, queued)


def _refuse_assignment(consultation_id: int):
    db.session.rollback()
    current = db.session.get(Consultation, consultation_id, populate_existing=True)
    if current is not None and current.state in (READY, PENDING):
        holder = current.service_provider.name if current.service_provider else _("nobody")
        raise AlreadyTaken(_("This consultation cannot be assigned: someone else changed it a moment ago and it "
                             "is now with %(holder)s. Look again before you change it.", holder=holder))
    _refuse(consultation_id, "assigned")


def pick_consultation(consultation: Consultation, *, doctor_id: int) -> None:
    """A doctor takes an unassigned consultation from the queue. Of two at once, one wins."""
    _doctor(doctor_id)
    _transition(consultation, (READY,), "picked", unassigned=True, state=PENDING, service_provider_id=doctor_id,
                assigned_at=utcnow())
    queued = _invite_to_waiting_room(consultation)
    audit.record("consultation.picked", subject=consultation, patient_id=consultation.patient_id,
                 actor=("staff", str(doctor_id)))
    _after_change(consultation, queued)


def _invite_to_waiting_room(consultation: Consultation) -> list:
    """Once a doctor has it, the patient gets a link to the waiting room, which opens when the doctor starts."""
    raw = create_patient_link(consultation)
    with speaking(consultation.patient.language):
        return _tell_patient(consultation, "consultation.waiting", _("A doctor will see you soon"),
                             _("A doctor has taken your consultation %(code)s and will start it soon. "
                               "Wait for them here: %(link)s", code=consultation.code, link=patient_link_url(raw)))


def _ensure_rooms(consultation: Consultation) -> None:
    """Create the chat and video rooms once; a retry after a half-failed start reuses them.

    The built-in chat sits beside phone and video, so every start makes a chat room; a video
    room only when VIDEO is enabled.
    """
    cfg = current_app.config
    timeout = cfg["EXTERNAL_TIMEOUT_SECONDS"]
    need_chat = db.session.scalar(select(ChatRoom.id).where(ChatRoom.consultation_id == consultation.id)) is None
    need_video = "VIDEO" in consultation.enabled_channels and db.session.scalar(
        select(VideoRoom.id).where(VideoRoom.consultation_id == consultation.id)) is None
    # End the transaction before talking to another system: on SQLite an open write transaction
    # would hold the database lock for as long as the partner takes to answer.
    db.session.commit()
    if need_chat:
        keys = ChatKeyServiceClient(cfg["SANDBOX_URL"], cfg["CHAT_KEY_SERVICE_API_KEY"], timeout).create_room(
            tokens.consultation_ref(consultation))
        _insert_once(ChatRoom(consultation_id=consultation.id, external_id=keys.room_id,
                              shared_secret_id=keys.shared_secret_id, shared_secret=keys.shared_secret))
        db.session.commit()
    if need_video:
        name = f"C-{consultation.code}-{secrets.token_hex(4)}"
        room = VideoServiceClient(cfg["SANDBOX_URL"], cfg["VIDEO_SERVICE_API_KEY"], timeout).create_room(name)
        _insert_once(VideoRoom(consultation_id=consultation.id, name=room.name, external_id=room.external_id))
        db.session.commit()


def _insert_once(row) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        pass  # a concurrent start made the room first; theirs is used


def create_patient_link(consultation: Consultation, *, valid_until: datetime | None = None) -> str:
    """A fresh link token for the patient, in the caller's transaction. Only its hash is stored.

    Valid PATIENT_LINK_HOURS, or until `valid_until` (a follow-up's link must outlive the wait for its day)."""
    raw = secrets.token_urlsafe(32)
    expires = valid_until or utcnow() + timedelta(hours=current_app.config["PATIENT_LINK_HOURS"])
    db.session.add(PatientLink(token_hash=hash_link_token(raw), consultation_id=consultation.id,
                               patient_id=consultation.patient_id, expires_at=expires))
    return raw


def hash_link_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def patient_link_url(raw: str) -> str:
    return f"{current_app.config['PORTAL_URL']}/c/{raw}"


def _tell_patient(consultation: Consultation, kind: str, subject: str, text: str) -> list:
    patient = consultation.patient
    queued = []
    if patient.phone:
        queued.append(outbox.queue_sms(to=patient.phone, text=text, kind=kind, patient_id=patient.id,
                                       consultation_id=consultation.id))
    if patient.email:
        queued.append(outbox.queue_email(to=patient.email, subject=subject, text=text, kind=kind,
                                         patient_id=patient.id, consultation_id=consultation.id))
    return queued


def start_consultation(consultation: Consultation, *, doctor_id: int) -> None:
    """The assigned doctor starts: rooms are made, the patient gets a link by SMS and e-mail."""
    if consultation.state != PENDING:
        _refuse(consultation.id, "started")
    _ensure_rooms(consultation)  # behind a timeout; raises ServiceUnavailable and nothing changes
    started = utcnow()
    _transition(consultation, (PENDING,), "started", doctor_id=doctor_id, state=IN_PROGRESS, starts_at=started)
    metrics.record_consultation_started(started - consultation.created_at)
    raw = create_patient_link(consultation)
    with speaking(consultation.patient.language):
        queued = _tell_patient(consultation, "consultation.link", _("Your consultation is starting"),
                               _("Your doctor is ready for your consultation %(code)s. Open this link to join: "
                                 "%(link)s", code=consultation.code, link=patient_link_url(raw)))
    audit.record("consultation.started", subject=consultation, patient_id=consultation.patient_id,
                 actor=("staff", str(doctor_id)))
    _after_change(consultation, queued)


def finish_consultation(consultation: Consultation, *, doctor_id: int) -> None:
    """The doctor ends the consultation: chat turns read-only, keys stop working, the patient is thanked."""
    _transition(consultation, (IN_PROGRESS,), "finished", doctor_id=doctor_id, state=COMPLETED, ends_at=utcnow())
    # Same transaction: the consultation is completed and billed (orders) together, or neither.
    events.consultation_finished.send(consultation.id)
    queued = []
    if consultation.patient.email:
        raw = create_patient_link(consultation)
        with speaking(consultation.patient.language):
            queued.append(outbox.queue_email(
                to=consultation.patient.email, subject=_("Thank you for your consultation"),
                kind="consultation.completed",
                text=_("Your consultation %(code)s is completed. Tell us how it went: %(link)s",
                       code=consultation.code, link=patient_link_url(raw)),
                patient_id=consultation.patient_id, consultation_id=consultation.id))
    audit.record("consultation.finished", subject=consultation, patient_id=consultation.patient_id,
                 actor=("staff", str(doctor_id)))
    _after_change(consultation, queued)


def cancel_consultation(consultation: Consultation, *, reason: str, by_id: int) -> None:
    """Cancel an open consultation with a reason; the patient is told."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidConsultation(_("give a reason for cancelling"))
    _transition(consultation, (*OPEN_STATES, SCHEDULED), "cancelled", state=CANCELLED, cancelled_at=utcnow(),
                cancel_reason=reason[:500])
    with speaking(consultation.patient.language):
        queued = _tell_patient(consultation, "consultation.cancelled", _("Your consultation was cancelled"),
                               _("Your consultation %(code)s was cancelled. We will contact you if a new time is "
                                 "needed.", code=consultation.code))
    audit.record("consultation.cancelled", subject=consultation, patient_id=consultation.patient_id,
                 actor=("staff", str(by_id)))
    _after_change(consultation, queued)


def release_due_consultations(now: datetime | None = None) -> list[int]:
    """Move every `scheduled` consultation whose queue time has come into the queue: to its doctor when it
    was booked "with me" (the patient is invited to the waiting room, as on any assignment), else to
    `ready_for_pickup` for any doctor. Safe to run any time and from several workers at once: each row
    moves in a conditional UPDATE from `scheduled`, so only one release of it goes through. Committed."""
    now = now or utcnow()
    due = and_(Consultation.state == SCHEDULED, Consultation.created_at <= now)
    to_anyone = list(db.session.scalars(
        update(Consultation).where(due, Consultation.service_provider_id.is_(None))
        .values(state=READY).returning(Consultation.id).execution_options(synchronize_session=False)))
    to_doctor = list(db.session.scalars(
        update(Consultation).where(due, Consultation.service_provider_id.is_not(None))
        .values(state=PENDING, assigned_at=now).returning(Consultation.id)
        .execution_options(synchronize_session=False)))
    queued = []
    for consultation_id in to_anyone + to_doctor:
        consultation = get_consultation(consultation_id)
        db.session.refresh(consultation)
        if consultation_id in to_doctor:
            queued += _invite_to_waiting_room(consultation)
        audit.record("consultation.released", subject=consultation, patient_id=consultation.patient_id,
                     actor=("system", "follow-up-release"), to_doctor=consultation.service_provider_id)
    db.session.commit()
    if to_anyone or to_doctor:
        outbox.dispatch(queued)
        live.bump(QUEUE_TOPIC)
        for consultation_id in to_anyone + to_doctor:
            live.bump(consultation_topic(consultation_id))
    return to_anyone + to_doctor


# -- the doctors' queue ------------------------------------------------------------------------

QUEUE_VIEWS = ("all", "mine", "unassigned")
# Counting stops here: the count is on every queue render, and beyond a thousand the exact
# number helps no one (counting 100k open rows cost 6 of a request's 16 ms).
QUEUE_COUNT_CAP = 1000


@dataclass(frozen=True)
class QueueRow(ConsultationFacts):
    """One line of the queue, read as plain columns: what the list shows and the policy asks about.
    Loading whole consultations with their patients and doctors was a quarter of a queue request
    (and opened every sealed column: national ids, addresses, a direct consultation's need)."""

    id: int
    code: str
    state: str
    primary_channel: str
    urgent: bool | None
    service_provider_id: int | None
    created_at: datetime
    starts_at: datetime | None
    cancelled_at: datetime | None
    patient_first_name: str
    patient_last_name: str
    doctor_name: str | None

    @property
    def patient_name(self) -> str:
        return full_name(self.patient_first_name, self.patient_last_name)


# Of the options only "urgent" is shown: the database reads it out of the JSON (json_extract, ->>), where
# decoding each row's whole options document in Python was 25 json.loads a page.
_QUEUE_COLUMNS = (Consultation.id, Consultation.code, Consultation.state, Consultation.primary_channel,
                  Consultation.options["urgent"].as_boolean(), Consultation.service_provider_id,
                  Consultation.created_at,
                  Consultation.starts_at, Consultation.cancelled_at, Patient.first_name, Patient.last_name,
                  StaffUser.name)


@dataclass
class QueuePage:
    consultations: list[QueueRow]
    view: str
    page: int
    pages: int
    total: int
    more: bool = False  # there are more than `total` (the count stopped at QUEUE_COUNT_CAP)


MAX_QUEUE_PAGE = 100_000
_SHOWN = {"all": text(OPEN_CONDITION),
          "mine": and_(text(OPEN_CONDITION), Consultation.service_provider_id == bindparam("doctor_id")),
          "unassigned": Consultation.state == READY}


def _counted(shown):
    return select(func.count()).select_from(select(Consultation.id).where(shown).limit(QUEUE_COUNT_CAP + 1).subquery())


def _queue_statement(shown, page_ids=None):
    """The page's rows, each with the (capped) count of the view, in one statement: the count is a subquery
    of its own (`correlate(None)`), which the database runs once. A page took three statements, and each
    costs the server more in SQLAlchemy than in the database."""
    query = (select(*_QUEUE_COLUMNS, _counted(shown).correlate(None).scalar_subquery()).select_from(Consultation)
             .join(Patient, Patient.id == Consultation.patient_id)
             .outerjoin(StaffUser, StaffUser.id == Consultation.service_provider_id))
    if page_ids is not None:
        return query.where(Consultation.id.in_(page_ids)).order_by(Consultation.created_at, Consultation.id)
    return (query.where(shown).order_by(Consultation.created_at, Consultation.id)
            .limit(bindparam("limit")).offset(bindparam("offset")))


_QUEUES = {view: _queue_statement(shown) for view, shown in _SHOWN.items()}
# Without statistics (no ANALYZE has run) SQLite prefers the state index and sorts every open row for each
# page; naming the partial index reads the page straight off it.
_SQLITE_ALL = _queue_statement(_SHOWN["all"], text(
    f"SELECT id FROM consultations INDEXED BY ix_consultations_open_queue WHERE {OPEN_CONDITION} "
    "ORDER BY created_at, id LIMIT :limit OFFSET :offset").columns(Consultation.id))


def doctor_queue(*, view: str, doctor_id: int, page: int = 1, per_page: int = 25) -> QueuePage:
    """Open consultations, oldest first. `mine`: assigned to this doctor; `unassigned`: free to pick."""
    view = view if view in QUEUE_VIEWS else "all"
    statement = _QUEUES[view]
    if view == "all" and db.session.get_bind().dialect.name == "sqlite":
        statement = _SQLITE_ALL
    chosen = {"doctor_id": doctor_id} if view == "mine" else {}

    def rows_of(page: int) -> list:
        # Plain columns on the session's connection: the ORM's execution layer adds ~50 us, nothing here.
        return db.session.connection().execute(
            statement, {**chosen, "limit": per_page, "offset": (page - 1) * per_page}).all()

    page = min(max(page, 1), MAX_QUEUE_PAGE)
    rows = rows_of(page)
    counted = rows[0][-1] if rows else db.session.scalar(_counted(_SHOWN[view]), chosen) if page > 1 else 0
    total, more = min(counted, QUEUE_COUNT_CAP), counted > QUEUE_COUNT_CAP
    pages = max(1, -(-total // per_page))
    if page > pages:  # past the last page (the queue shrank meanwhile, or an old link): show the last one
        page = pages
        rows = rows_of(page)
    return QueuePage([QueueRow(*row[:-1]) for row in rows], view, page, pages, total, more)


def active_doctors() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).where(StaffUser.role == "doctor", StaffUser.active)
                                   .order_by(StaffUser.name)))


# -- chat --------------------------------------------------------------------------------------

def chat_room_of(consultation: Consultation) -> ChatRoom | None:
    return db.session.scalar(select(ChatRoom).where(ChatRoom.consultation_id == consultation.id))


def video_room_of(consultation: Consultation) -> VideoRoom | None:
    return db.session.scalar(select(VideoRoom).where(VideoRoom.consultation_id == consultation.id))


def chat_token(consultation: Consultation, *, for_doctor: bool) -> str | None:
    """A chat JWT for the page, only while the consultation is in progress."""
    room = chat_room_of(consultation)
    if room is None or consultation.state != IN_PROGRESS:
        return None
    return tokens.chat_jwt(consultation, room, for_doctor=for_doctor, scopes=current_app.config["CHAT_TOKEN_SCOPES"])


def video_key(consultation: Consultation, *, for_doctor: bool) -> str | None:
    room = video_room_of(consultation)
    if room is None or consultation.state != IN_PROGRESS:
        return None
    return tokens.video_key(consultation, room, current_app.config["VIDEO_KEY_SECRET"], for_doctor=for_doctor,
                            label=current_app.config["VIDEO_ROOM_LABEL"])


# What a page shows of each message (rows: id, sender_role, body, created_at), built once.
_MESSAGE_COLUMNS = (ChatMessage.id, ChatMessage.sender_role, ChatMessage.body, ChatMessage.created_at)
_MESSAGES_AFTER = (select(*_MESSAGE_COLUMNS).join(ChatRoom, ChatRoom.id == ChatMessage.chat_room_id)
                   .where(ChatRoom.consultation_id == bindparam("consultation_id"), ChatMessage.id > bindparam("after"))
                   .order_by(ChatMessage.id))
_ROOM_MESSAGES_AFTER = (select(*_MESSAGE_COLUMNS)
                        .where(ChatMessage.chat_room_id == bindparam("room_id"), ChatMessage.id > bindparam("after"))
                        .order_by(ChatMessage.id))
_INSERT_MESSAGE = insert(ChatMessage.__table__)
# What a post needs of its room (a row: id, shared secret and its id), locked until the commit.
_LOCK_ROOM = (select(ChatRoom.id, ChatRoom.shared_secret_id, ChatRoom.shared_secret)
              .where(ChatRoom.consultation_id == bindparam("consultation_id")).with_for_update())


def post_chat_message(consultation, *, token: str, text: str, expected_role: str, after: int = 0,
                      reader: tuple[str, str] | None = None) -> tuple[list, int]:
    """Store a message, authorised by the sender's chat token. Only while in progress.

    Answers with what the sender's page lacks: the messages after its last one (`after`), the new one
    included, and the chat's version to poll from (the new message's id). Reading them back is an audited
    read of patient data; its event is committed with the message, so a post is one commit."""
    text = (text or "").strip()
    if not text:
        raise InvalidConsultation(_("write a message first"))
    if len(text) > MAX_CHAT_MESSAGE:
        raise InvalidConsultation(_("a message may be at most %(n)d characters", n=MAX_CHAT_MESSAGE))
    # Pages fetch only the messages after the last id they hold, so a room's ids must become visible
    # in id order: the room row stays locked (PostgreSQL; SQLite has one writer anyway) from taking
    # the id to the commit, so a later id never commits before an earlier one.
    room = db.session.connection().execute(_LOCK_ROOM, {"consultation_id": consultation.id}).first()
    if room is None or consultation.state != IN_PROGRESS:
        raise NotAllowedNow(_("The chat is closed: the consultation is not in progress."))
    try:
        sender = tokens.verify_chat_jwt(token or "", consultation, room)
    except tokens.InvalidChatToken:
        raise NotAllowedNow(_("Your chat session has expired. Reload the page.")) from None
    if sender.role != expected_role:
        raise NotAllowedNow(_("Your chat session has expired. Reload the page."))
    # Core INSERT and rows, not the ORM's unit of work and instances: the answer only renders them.
    message_id = db.session.connection().execute(_INSERT_MESSAGE, {
        "chat_room_id": room.id, "sender_role": sender.role, "sender": sender.owner,
        "body": text}).inserted_primary_key[0]
    news = db.session.connection().execute(_ROOM_MESSAGES_AFTER, {"room_id": room.id, "after": after}).all()
    # Commits the message with the event (record_read's one INSERT, not the ORM's unit of work).
    audit.record_read("consultation.chat_read", subject=("Consultation", consultation.id),
                      patient_id=consultation.patient_id,
                      actor=reader)
    # The chat's live counter is the id of the last message announced, raised after the commit. A room's ids
    # commit in id order (the lock above), so a page holding the messages up to this one holds this id as its
    # version: a later message raises the counter past it and the page's next poll fetches. (A counter bumped
    # by one needed a read before the messages, to know whether another post came between: a Redis round trip
    # more on every post.)
    live.raise_to(chat_topic(consultation.id), message_id)
    return news, message_id


def chat_messages(consultation: Consultation, *, after: int = 0) -> list:
    """The conversation in order; with `after`, only the messages after that one (what a page lacks).
    Rows with the message's id, sender_role, body and created_at."""
    return db.session.connection().execute(_MESSAGES_AFTER,
                                           {"consultation_id": consultation.id, "after": after}).all()


# -- the patient's side ------------------------------------------------------------------------

def find_patient_link(raw_token: str) -> PatientLink | None:
    """The unexpired link for this token, or None (unknown, malformed or expired alike)."""
    if not raw_token or len(raw_token) > 100:
        return None
    link = db.session.scalar(select(PatientLink).where(PatientLink.token_hash == hash_link_token(raw_token)))
    if link is None or link.expires_at <= utcnow():
        return None
    return link


def _lock_key(link: PatientLink) -> str:
    # Per patient and consultation, so a fresh link does not reset the count.
    return f"patient-check:{link.consultation_id}:{link.patient_id}"


def identity_locked(link: PatientLink) -> bool:
    return patient_check.identity_locked(_lock_key(link))


def check_patient_identity(link: PatientLink, *, last_name: str, birth_date: date | None) -> bool:
    """Last name and date of birth must match the linked patient. Five failures lock for 15 minutes."""
    if identity_locked(link):
        raise IdentityLocked()
    if patient_check.identity_matches(link_patient(link), last_name=last_name, birth_date=birth_date):
        audit.record("patient.identity_checked", subject=link, patient_id=link.patient_id,
                     actor=("patient", str(link.patient_id)))
        db.session.commit()
        return True
    audit.record("patient.identity_failed", subject=link, patient_id=link.patient_id, actor=("patient", None))
    db.session.commit()
    patient_check.count_failure(_lock_key(link))
    return False


def link_patient(link: PatientLink):
    return db.session.get(Patient, link.patient_id)


def submit_review(consultation: Consultation, *, rating: int, comment: str | None) -> Review:
    if consultation.state != COMPLETED:
        raise NotAllowedNow(_("A consultation can be reviewed once it is completed."))
    if rating not in range(1, 6):
        raise InvalidConsultation(_("choose a rating from 1 to 5"))
    review = Review(consultation_id=consultation.id, rating=rating, comment=(comment or "").strip()[:2000] or None)
    try:
        with db.session.begin_nested():
            db.session.add(review)
    except IntegrityError:
        db.session.rollback()
        raise NotAllowedNow(_("Thank you: this consultation has already been reviewed.")) from None
    audit.record("consultation.reviewed", subject=consultation, patient_id=consultation.patient_id,
                 actor=("patient", str(consultation.patient_id)))
    db.session.commit()
    return review


def review_of(consultation: Consultation) -> Review | None:
    return db.session.scalar(select(Review).where(Review.consultation_id == consultation.id))
