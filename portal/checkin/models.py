from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.patients.models import Patient
from portal.scheduling.models import Appointment
from portal.security.models import utcnow

DAY_BEFORE, SAME_DAY = "day_before", "same_day"


class CheckinLink(db.Model):
    """A check-in link for one patient and one day. Only a hash of its token is stored."""

    __tablename__ = "checkin_links"
    # One link of each kind per patient and day, so the periodic sender can run as often as it likes.
    __table_args__ = (UniqueConstraint("patient_id", "appointment_date", "kind",
                                       name="uq_checkin_links_patient_day_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_date: Mapped[date]
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class CheckIn(db.Model):
    """A patient's check-in for one appointment: demographics answers, travel answers, outcome."""

    __tablename__ = "check_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    contact_ok: Mapped[bool]
    emergency_contact_ok: Mapped[bool]
    next_of_kin_ok: Mapped[bool]
    # Any "no" above: the front desk updates the record (listed on the travel claims page).
    needs_front_desk: Mapped[bool] = mapped_column(default=False, index=True)
    front_desk_done_at: Mapped[datetime | None]
    # {"mileage_only": bool, "own_vehicle": bool, "home_address": bool}, or {} when travel pay was not offered.
    travel_answers: Mapped[dict] = mapped_column(JSON, default=dict)
    # queued | not_queued | not_eligible | already_filed | not_offered: what the confirmation page says.
    travel_outcome: Mapped[str] = mapped_column(String(20))
    checked_in_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The classes, not their names: a name resolves only once its module is imported, which a test or
    # script that imports check-in first had not done (the mapper failed to configure).
    appointment = relationship(Appointment)
    patient = relationship(Patient)
