import uuid
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.security.crypto import EncryptedText
from portal.security.models import utcnow

READY = "ready_for_pickup"
PENDING = "pending_sp"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
CANCELLED = "cancelled"
# A follow-up booked for a later day: not open, so the queue (which reads only open states, off a partial
# index) never sees it; `created_at` is when it enters the queue (see services.release_due_consultations).
SCHEDULED = "scheduled"
STATES = (SCHEDULED, READY, PENDING, IN_PROGRESS, COMPLETED, CANCELLED)
OPEN_STATES = (READY, PENDING, IN_PROGRESS)
# The open states as a literal SQL condition: the doctors' queue filters with exactly this text, so
# SQLite and PostgreSQL can use the partial index below (bound parameters would not match it).
OPEN_CONDITION = "state IN ('ready_for_pickup', 'pending_sp', 'in_progress')"
CHANNELS = ("PHONE", "CHAT", "VIDEO")
CATEGORIES = ("insurance", "private", "public")
CHANNEL_LABELS = {"PHONE": _l("Phone"), "CHAT": _l("Chat"), "VIDEO": _l("Video")}
CATEGORY_LABELS = {"insurance": _l("Insurance"), "private": _l("Private"), "public": _l("Public")}
SOURCE_LABELS = {"referral": _l("referral"), "direct": _l("direct (the patient asked)"), "follow_up": _l("follow-up")}

STATE_LABELS = {
    SCHEDULED: _l("Booked for later"),
    READY: _l("Ready for pickup"),
    PENDING: _l("Assigned, not started"),
    IN_PROGRESS: _l("In progress"),
    COMPLETED: _l("Completed"),
    CANCELLED: _l("Cancelled"),
}


class ConsultationFacts:
    """What a consultation's state and times say; shared by the model and the queue's column-read rows."""

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_cancellable(self) -> bool:
        return self.state in OPEN_STATES or self.state == SCHEDULED

    @property
    def waiting_time(self):
        """starts_at − created_at; while nobody has started, the time waited so far (none before it is queued)."""
        if self.state == SCHEDULED:
            return None
        if self.starts_at is not None:
            return self.starts_at - self.created_at
        return (self.cancelled_at or utcnow()) - self.created_at


class Consultation(ConsultationFacts, db.Model):
    __tablename__ = "consultations"
    __table_args__ = (
        Index("ix_consultations_state_created", "state", "created_at"),
        # Open consultations in queue order: the queue reads its page straight off this index
        # instead of sorting every open row (100k open: p50 370 ms before, see bench/consultations.py).
        Index("ix_consultations_open_queue", "created_at", "id", sqlite_where=text(OPEN_CONDITION),
              postgresql_where=text(OPEN_CONDITION)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    # One consultation per referral, enforced by the database against double clicks and races.
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="ready_for_pickup")
    category: Mapped[str] = mapped_column(String(40), default="insurance")
    enabled_channels: Mapped[list] = mapped_column(JSON, default=list)
    primary_channel: Mapped[str] = mapped_column(String(10))
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    service_provider_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # Direct consultations: what the patient wrote and the policy the insurer confirmed. Sealed.
    need = mapped_column(EncryptedText("consultation.need"), nullable=True)
    policy_number = mapped_column(EncryptedText("consultation.policy_number"), nullable=True)
    # The insurer it is served for (orders): set when it is created, billed when it is finished.
    insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurers.id"), index=True)
    # A follow-up: the consultation it follows up, and the deal it is billed under (its first consultation's,
    # decided by orders when it is created). Others have no deal here: they are billed under the deal in
    # force on the day they are served.
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))

    patient = relationship("Patient")
    service_provider = relationship("StaffUser", foreign_keys=[service_provider_id])
    chat_room = relationship("ChatRoom", uselist=False, back_populates="consultation")
    video_room = relationship("VideoRoom", uselist=False, back_populates="consultation")

    @property
    def treatment_duration(self):
        """ends_at − starts_at; while in progress, the time so far."""
        if self.starts_at is None:
            return None
        return (self.ends_at or utcnow()) - self.starts_at


class ChatRoom(db.Model):
    """A room at the chat key service: its id and the shared secret our chat JWTs are signed with."""

    __tablename__ = "chat_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), unique=True)
    external_id: Mapped[str] = mapped_column(String(64))
    shared_secret_id: Mapped[str] = mapped_column(String(64))
    shared_secret = mapped_column(EncryptedText("chat_room.shared_secret"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    consultation = relationship("Consultation", back_populates="chat_room")


class ChatMessage(db.Model):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_room_id", "chat_room_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_room_id: Mapped[int] = mapped_column(ForeignKey("chat_rooms.id"))
    # "doctor" or "patient"; `sender` is the token's owner ("Consultation/<id>" or "Patient/<id>").
    sender_role: Mapped[str] = mapped_column(String(10))
    sender: Mapped[str] = mapped_column(String(40))
    body = mapped_column(EncryptedText("chat_message.body"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VideoRoom(db.Model):
    __tablename__ = "video_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    external_id: Mapped[str] = mapped_column(String(64))
    # The `d` claim of every participant key for this room: one UUID per room, the doctor's and the
    # patient's keys alike, as in the video service's example keys.
    key_uuid: Mapped[str] = mapped_column(String(36), default=lambda: str(uuid.uuid4()))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    consultation = relationship("Consultation", back_populates="video_room")


class PatientLink(db.Model):
    """The link a patient gets by SMS and e-mail. Only a hash of its token is stored."""

    __tablename__ = "patient_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Review(db.Model):
    __tablename__ = "consultation_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), unique=True)
    rating: Mapped[int]
    comment = mapped_column(EncryptedText("review.comment"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsultationResult(db.Model):
    """The doctor's report: a medical record. Every clinical field is sealed."""

    __tablename__ = "consultation_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    icpc2_code = mapped_column(EncryptedText("result.icpc2_code"), nullable=False)
    outcome = mapped_column(EncryptedText("result.outcome"), nullable=False)
    patient_national_id = mapped_column(EncryptedText("result.patient_national_id"), nullable=True)
    job_description = mapped_column(EncryptedText("result.job_description"), nullable=True)
    policy_number = mapped_column(EncryptedText("result.policy_number"), nullable=True)
    notes = mapped_column(EncryptedText("result.notes"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author = relationship("StaffUser")
