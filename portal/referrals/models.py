from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.security.crypto import EncryptedText
from portal.security.models import utcnow

AWAITING = "awaiting_screening"
CONVERTED = "converted"
DECLINED = "declined"
DUPLICATE = "duplicate"

# What the secretary chose for a detail the referral system sent that differs from the patient record.
UPDATED, KEPT = "updated", "kept"

CALL_OUTCOMES = {
    "reached": _l("Reached"),
    "no_answer": _l("No answer"),
    "voicemail": _l("Voicemail"),
    "wrong_number": _l("Wrong number"),
}
STATUS_LABELS = {
    AWAITING: _l("awaiting screening"),
    CONVERTED: _l("consultation created"),
    DECLINED: _l("declined"),
    DUPLICATE: _l("duplicate"),
}


class Referral(db.Model):
    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_status_received", "status", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journal_guid: Mapped[str] = mapped_column(String(36), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    format_id: Mapped[str] = mapped_column(String(300))
    message_timestamp: Mapped[datetime]
    payload = mapped_column(EncryptedText("referral.payload"))
    # Keyed hash of the canonical payload: tells a replay from a changed resend without decrypting.
    payload_fingerprint: Mapped[str] = mapped_column(String(64))
    phone_needs_check: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(30), default=AWAITING)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    call_attempt_count: Mapped[int] = mapped_column(default=0)
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decline_reason: Mapped[str | None] = mapped_column(String(500))
    # A duplicate is closed, not deleted: it points at the referral it repeats.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    # Per sent detail (the sent values are in the sealed payload): UPDATED the record from it, or KEPT the record's.
    sent_name_choice: Mapped[str | None] = mapped_column(String(10))
    sent_phone_choice: Mapped[str | None] = mapped_column(String(10))
    sent_email_choice: Mapped[str | None] = mapped_column(String(10))

    patient = relationship("Patient")
    handled_by = relationship("StaffUser")
    call_attempts = relationship("CallAttempt", order_by="CallAttempt.at.desc()", back_populates="referral")


class CallAttempt(db.Model):
    __tablename__ = "call_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    note = mapped_column(EncryptedText("call_attempt.note"), nullable=True)
    by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    referral = relationship("Referral", back_populates="call_attempts")
    by = relationship("StaffUser")

    @property
    def outcome_label(self) -> str:
        return CALL_OUTCOMES.get(self.outcome, self.outcome)
