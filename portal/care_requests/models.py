"""Care requests: what a partner's staff ask the clinic for, for one of the partner's patients."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.partners.models import Partner
from portal.patients.models import Patient
from portal.scheduling.models import Appointment, HealthcareService
from portal.security.crypto import EncryptedText
from portal.security.models import utcnow

DRAFT = "draft"
SCHEDULED = "scheduled"
TRIAGE = "triage"
BOOKED = "booked"
DECLINED = "declined"
CANCELLED = "cancelled"
# A secretary booked the patient at another service from triage (portal/book_elsewhere/); past, not current.
BOOKED_ELSEWHERE = "booked_elsewhere"
CARE_REQUEST_STATUSES = (DRAFT, SCHEDULED, TRIAGE, BOOKED, DECLINED, CANCELLED, BOOKED_ELSEWHERE)
STATUS_LABELS = {
    DRAFT: _l("draft"),
    SCHEDULED: _l("scheduled"),
    TRIAGE: _l("in triage"),
    BOOKED: _l("booked by the clinic"),
    DECLINED: _l("declined"),
    CANCELLED: _l("cancelled"),
    BOOKED_ELSEWHERE: _l("booked at another service"),
}
# Why a visit went to triage. The English is what `triage_reason` stores (older rows hold it too); the pages
# say it in the reader's language (`triage_reason_text`), and show any other stored reason as it is.
SELF_SCHEDULING_OFF = "Self-scheduling is off for this partner"
SYMPTOM_NEEDS_TRIAGE = "Symptom needs triage"
AGE_NEEDS_TRIAGE = "Age needs triage"
NO_FREE_SLOT = "No free slot"
TRIAGE_REASONS = {
    SELF_SCHEDULING_OFF: _l("Self-scheduling is off for this partner"),
    SYMPTOM_NEEDS_TRIAGE: _l("Symptom needs triage"),
    AGE_NEEDS_TRIAGE: _l("Age needs triage"),
    NO_FREE_SLOT: _l("No free slot"),
}


def triage_reason_text(reason: str | None) -> str:
    return "" if reason is None else str(TRIAGE_REASONS.get(reason, reason))


# "Current" tab: still waiting for something to happen; the rest are "past".
CURRENT_STATUSES = (DRAFT, TRIAGE, SCHEDULED, BOOKED)


class PartnerPatient(db.Model):
    """Which partner may see which patient: a patient can be known to several partners."""

    __tablename__ = "partner_patients"
    __table_args__ = (UniqueConstraint("partner_id", "patient_id", name="uq_partner_patients_partner_patient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient = relationship(Patient)


class CareRequest(db.Model):
    __tablename__ = "care_requests"
    __table_args__ = (
        # The partner's list: one partner, current or past, newest first.
        Index("ix_care_requests_partner_created", "partner_id", "created_at", "id"),
        Index("ix_care_requests_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    healthcare_service_id: Mapped[int | None] = mapped_column(ForeignKey("healthcare_services.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    reason = mapped_column(EncryptedText("care_request.reason"), nullable=True)
    answers = mapped_column(EncryptedText("care_request.answers"), nullable=True)
    callback_phone: Mapped[str | None] = mapped_column(String(32))
    triage_reason: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("partner_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    version: Mapped[int] = mapped_column(default=1)

    partner = relationship(Partner)
    patient = relationship(Patient)
    service = relationship(HealthcareService)
    appointment = relationship(Appointment)


class CareRequestUser(db.Model):
    """Who worked on a care request (care request id, partner id, user id)."""

    __tablename__ = "care_request_users"
    __table_args__ = (UniqueConstraint("care_request_id", "partner_user_id", name="uq_care_request_users"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    care_request_id: Mapped[int] = mapped_column(ForeignKey("care_requests.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    partner_user_id: Mapped[int] = mapped_column(ForeignKey("partner_users.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
