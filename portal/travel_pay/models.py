
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.patients.models import Patient
from portal.scheduling.models import Appointment
from portal.security.models import utcnow

NOT_QUEUED = "not_queued"   # stored; no job in Redis yet (Redis was down): the sweep queues it
QUEUED = "queued"           # a job is scheduled for next_attempt_at
SUBMITTING = "submitting"   # a job claimed it and is talking to the claims API
FILED = "filed"             # the claims API took it: claim_number is set; its status is followed
DECIDED = "decided"         # the claims system decided it (claim_status says how); patient told
EXISTS = "exists"           # the claims system already had a claim for this appointment: not filed again
REJECTED = "rejected"       # validation error from the claims API: not retried, patient told
FAILED = "failed"           # system errors until the last attempt: listed for staff, patient told
STATUSES = (NOT_QUEUED, QUEUED, SUBMITTING, FILED, DECIDED, EXISTS, REJECTED, FAILED)
STATUS_LABELS = {
    NOT_QUEUED: _l("Stored, not yet queued"),
    QUEUED: _l("Queued"),
    SUBMITTING: _l("Being filed"),
    FILED: _l("Filed"),
    DECIDED: _l("Decided"),
    EXISTS: _l("Already in the claims system"),
    REJECTED: _l("Refused by the claims system"),
    FAILED: _l("Failed after retries"),
}

# The claims system's own claim statuses (BTSSS, as vets-api's check-in status job lists them).
# Until one of DECISIONS arrives the claim is followed; a decision ends the following and is texted.
CLAIM_STATUS_LABELS = {
    "Saved": _l("saved"),
    "ClaimSubmitted": _l("claim submitted"),
    "InProcess": _l("in process"),
    "In-Process": _l("in process"),
    "InManualReview": _l("in manual review"),
    "ApprovedForPayment": _l("approved for payment"),
    "SubmittedForPayment": _l("submitted for payment"),
    "ClaimPaid": _l("paid"),
    "PartialPayment": _l("partially paid"),
    "Denied": _l("denied"),
    "ClosedWithNoPayment": _l("closed with no payment"),
    "OnHold": _l("on hold"),
    "Incomplete": _l("incomplete"),
    "Appeal": _l("under appeal"),
    "FiscalRescinded": _l("rescinded"),
    "PaymentCanceled": _l("payment cancelled"),
}
DECISIONS = frozenset({"ApprovedForPayment", "SubmittedForPayment", "ClaimPaid", "PartialPayment", "Denied",
                       "ClosedWithNoPayment", "OnHold", "Incomplete", "Appeal", "FiscalRescinded",
                       "PaymentCanceled"})


def status_label(status: str) -> str:
    """Our own status of a claim, in the reader's language."""
    return str(STATUS_LABELS.get(status, status))


def claim_status_label(status: str | None) -> str:
    """Words for a claims-system status in the language spoken now; an unknown one is shown as it came."""
    return str(CLAIM_STATUS_LABELS.get(status or "", status or ""))


class TravelClaim(db.Model):
    """One travel-pay claim per patient and appointment day (the database enforces it)."""

    __tablename__ = "travel_claims"
    __table_args__ = (
        UniqueConstraint("patient_id", "appointment_date", name="uq_travel_claims_patient_day"),
        Index("ix_travel_claims_status_next", "status", "next_attempt_at"),
        Index("ix_travel_claims_status_check", "status", "next_status_check_at"),
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
    # The beneficiary travel agreement the patient accepted: its version, language code and wording as
    # shown. No claim is queued without one (bench and pre-agreement rows may lack it).
    agreement_version: Mapped[str | None] = mapped_column(String(20))
    agreement_language: Mapped[str | None] = mapped_column(String(8))
    agreement_text: Mapped[str | None] = mapped_column(Text)
    agreed_at: Mapped[datetime | None]
    # Times the claims-API breaker pushed this attempt back: part of its job id, so a paused attempt's
    # new job never reuses the id of the job that paused it.
    pauses: Mapped[int] = mapped_column(default=0, server_default="0")
    # The last attempt timed out: the claims system may have the claim. Ask its status before filing again.
    outcome_unknown: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # The step adapter's progress in the claims system (its own ids; not patient data).
    external_appointment_id: Mapped[str | None] = mapped_column(String(64))
    external_claim_id: Mapped[str | None] = mapped_column(String(64))
    steps_done: Mapped[str | None] = mapped_column(String(40))
    # Following a filed claim to its decision.
    next_status_check_at: Mapped[datetime | None]
    status_checked_at: Mapped[datetime | None]
    follow_until: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    patient = relationship(Patient)
    appointment = relationship(Appointment)
