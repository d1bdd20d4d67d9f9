from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.security.crypto import EncryptedText
from portal.security.models import utcnow

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
CHANNELS = ("sms", "email")


class Notification(db.Model):
    """One message to one recipient. Written in the same transaction as the change it reports."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(40))
    # Recipient, subject and body hold patient data (and patient links): sealed at rest.
    recipient = mapped_column(EncryptedText("notification.recipient"), nullable=False)
    subject = mapped_column(EncryptedText("notification.subject"), nullable=True)
    body = mapped_column(EncryptedText("notification.body"), nullable=False)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # Only our own error text (exception class and status), never the message or recipient.
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
