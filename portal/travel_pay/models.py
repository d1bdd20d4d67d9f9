from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.patients.models import Patient
from portal.scheduling.models import Appointment
from portal.security.models import utcnow

NOT_QUEUED = "not_queued"   # stored; no job in Redis yet (Redis was down): the sweep queues it
QUEUED = "queued"           # a job is scheduled for next_attempt_at
SUBMITTING = "submitting"   # a job claimed it and is talking to the claims API
FILED = "filed"             # the claims API took it: claim_number is set
REJECTED = "rejected"       # validation error from the claims API: not retried, patient told
FAILED = "failed"           # system errors until the last attempt: listed for staff, patient told
STATUSES = (NOT_QUEUED, QUEUED, SUBMITTING, FILED, REJECTED, FAILED)
STATUS_LABELS = {
    NOT_QUEUED: "Stored, not yet queued",
    QUEUED: "Queued",
    SUBMITTING: "Being filed",
    FILED: "Filed",
    REJECTED: "Refused by the claims system",
    FAILED: "Failed after retries",
}


class TravelClaim(db.Model):
    """One travel-pay claim per patient and appointment day (the database enforces it)."""

    __tablename__ = "travel_claims"
    __table_args__ = (
        UniqueConstraint("patient_id", "appointment_date", name="uq_travel_claims_patient_day"),
        Index("ix_travel_claims_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    appointment_date: Mapped[date]
    # {"mileage_only": true, "own_vehicle": true, "home_address": true}
    answers: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=NOT_QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    # Raised by a staff re-submit, so the job ids of earlier attempts are never reused.
    max_attempts: Mapped[int]
    # Our own words (error class, HTTP status, the API's error code): never patient data.
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime]
    attempt_started_at: Mapped[datetime | None]
    claim_number: Mapped[str | None] = mapped_column(String(64))
    claim_status: Mapped[str | None] = mapped_column(String(40))
    # Sent as Idempotency-Key on every attempt: a re-run after a crash cannot file twice.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    patient = relationship(Patient)
    appointment = relationship(Appointment)
