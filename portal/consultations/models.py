from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.security.models import utcnow

STATES = ("ready_for_pickup", "pending_sp", "in_progress", "completed", "cancelled")
OPEN_STATES = ("ready_for_pickup", "pending_sp", "in_progress")
CHANNELS = ("PHONE", "CHAT", "VIDEO")
CATEGORIES = ("insurance", "private", "public")


class Consultation(db.Model):
    __tablename__ = "consultations"
    __table_args__ = (Index("ix_consultations_state_created", "state", "created_at"),)

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

    patient = relationship("Patient")
