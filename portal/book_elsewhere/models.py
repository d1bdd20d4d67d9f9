from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.security.models import utcnow


class RemoteBooking(db.Model):
    """An appointment a secretary booked at another service, kept beside the referral or triage
    request it was booked from, so that page shows the outcome. The appointment lives at the provider."""

    __tablename__ = "remote_bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    care_request_id: Mapped[int | None] = mapped_column(ForeignKey("care_requests.id"), index=True)
    provider_ods_code: Mapped[str] = mapped_column(String(20))
    service_name: Mapped[str] = mapped_column(String(200))
    remote_appointment_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime]
    booked_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
