from datetime import date, datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.security.crypto import EncryptedText
from portal.security.models import utcnow


class Patient(db.Model):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The national id is sealed; lookups go through its blind index.
    national_id = mapped_column(EncryptedText("patient.national_id"), nullable=True)
    national_id_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    national_id_kind: Mapped[str | None] = mapped_column(String(20))
    # A direct-flow patient has no national id; they are found again by a blind index of their proven
    # e-mail, last name and birth date (patients.services.direct_identity_index).
    direct_identity_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None]
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_needs_check: Mapped[bool] = mapped_column(default=False)
    # Patients who came through an insurer referral must never get marketing messages.
    from_insurer_referral: Mapped[bool] = mapped_column(default=False)
    marketing_allowed: Mapped[bool] = mapped_column(default=False)
    # The language to speak to the patient in (a code such as "nb" or "en"); NULL when nobody has said.
    language: Mapped[str | None] = mapped_column(String(8))
    # Check-in asks the patient to confirm these; all are PHI, so sealed. Free text, one per line.
    home_address = mapped_column(EncryptedText("patient.home_address"), nullable=True)
    emergency_contact = mapped_column(EncryptedText("patient.emergency_contact"), nullable=True)
    next_of_kin = mapped_column(EncryptedText("patient.next_of_kin"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)


def full_name(first_name: str, last_name: str) -> str:
    """How a patient's name is shown (also for lists that read the two columns without the patient)."""
    return f"{first_name} {last_name}"
