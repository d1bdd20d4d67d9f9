import re
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import config
from portal.extensions import db
from portal.security.crypto import EncryptedText
from portal.security.models import utcnow

# Defined in config, which refuses them in TWO_FACTOR_REQUIRED_ROLES before the app loads.
PARTNER_ROLES = config.PARTNER_ROLES
# A tenant slug is a URL path segment: lower-case letters, digits and inner hyphens.
TENANT_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")

class Partner(db.Model):
    """An external organisation, one identity-provider tenant."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str] = mapped_column(String(64), unique=True)
    idp_issuer: Mapped[str] = mapped_column(String(500))
    idp_client_id: Mapped[str] = mapped_column(String(200))
    idp_client_secret = mapped_column(EncryptedText("partner.idp_client_secret"), nullable=True)
    self_scheduling: Mapped[bool] = mapped_column(default=True)
    # e.g. {"triage_symptoms": ["chest pain"], "triage_min_age": 75, "triage_max_age": 2}
    eligibility_rules: Mapped[dict] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerUser(UserMixin, db.Model):
    __tablename__ = "partner_users"
    __table_args__ = (
        # One account per identity at the provider; NULL subject until the first sign-in links it.
        UniqueConstraint("idp_issuer", "idp_subject", name="uq_partner_users_issuer_subject"),
        UniqueConstraint("partner_id", "email", name="uq_partner_users_partner_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    idp_issuer: Mapped[str | None] = mapped_column(String(500))
    idp_subject: Mapped[str | None] = mapped_column(String(255))
    notification_email: Mapped[str | None] = mapped_column(String(254))
    default_service_id: Mapped[int | None] = mapped_column(ForeignKey("healthcare_services.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # Moved on by a role change, a deactivation and the partner's deactivation: the user loader refuses a
    # cookie of an older epoch, so those changes shut old sessions out even if Redis failed at that moment.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The language the portal speaks to this user ("nb", "en"); NULL: their browser's.
    language: Mapped[str | None] = mapped_column(String(8))

    partner = relationship("Partner")

    def get_id(self) -> str:
        return f"partner:{self.id}"

    @property
    def is_active(self) -> bool:
        return self.active
