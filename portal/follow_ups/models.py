from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.security.models import utcnow

CONSULTATION, APPOINTMENT = "consultation", "appointment"


class FollowUp(db.Model):
    """A follow-up a doctor booked from a consultation: what was made (a consultation or an appointment),
    for whom, by whom and when. The thing made is written in the same transaction as this row."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint("(kind = 'consultation' AND follow_up_consultation_id IS NOT NULL AND appointment_id IS NULL)"
                        " OR (kind = 'appointment' AND appointment_id IS NOT NULL"
                        " AND follow_up_consultation_id IS NULL)", name="one_thing_made"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The consultation it was booked from.
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    follow_up_consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id"), unique=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    # A follow-up consultation: the day it enters the queue, and whether it waits for the booking doctor.
    not_before: Mapped[date | None]
    with_booking_doctor: Mapped[bool] = mapped_column(default=False)
    booked_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
