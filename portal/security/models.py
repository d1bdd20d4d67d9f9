from datetime import datetime, timezone
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal import config
from portal.extensions import db
from portal.security.crypto import EncryptedText

# Defined in config, which checks TWO_FACTOR_REQUIRED_ROLES against them before the app loads.
STAFF_ROLES = config.STAFF_ROLES

# argon2-cffi's default (RFC 9106's low-memory choice: 64 MiB, three passes), 0.3–1 s a hash on a small
# machine. A test app (TESTING, with PASSWORD_HASHING = "cheapest") hashes with argon2's cheapest
# parameters instead: the suite signs hundreds of users in, and at the real cost that was minutes of every
# CI run. A hash carries its parameters, so either hasher verifies the other's hashes.
_HASHERS = {"standard": PasswordHasher(), "cheapest": PasswordHasher.from_parameters(profiles.CHEAPEST)}


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.testing and current_app.config.get("PASSWORD_HASHING") == "cheapest":
        return _HASHERS["cheapest"]
    return _HASHERS["standard"]


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
    Made on first use, not at import: argon2 takes 64 MiB and ~0.1 s, which workers and commands never need."""
    return hasher.hash("not a password")


def hash_secret(secret: str) -> str:
    """Argon2 hash of a password or an API client secret."""
    return _hasher().hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher().verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # Deferred, like totp_secret: every request loads its user, and only sign-in and the account pages
    # need the secrets (one more SELECT there), so other requests never read or unseal them.
    password_hash: Mapped[str] = mapped_column(String(200), deferred=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Moved on by a password change or reset, a role change and a deactivation: older cookies stop working.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    invited_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # Two-factor (TOTP): the shared secret sealed like every other secret; the last time step a code was
    # accepted for, so a code is never taken twice (the UPDATE that moves it on decides).
    totp_secret = mapped_column(EncryptedText("staff_user.totp_secret"), nullable=True, deferred=True)
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # The language the portal speaks to this user ("nb", "en"); NULL: their browser's.
    language: Mapped[str | None] = mapped_column(String(8))

    def get_id(self) -> str:
        return f"staff:{self.id}"

    @property
    def invited(self) -> bool:
        """Invited and has not chosen a password yet."""
        return self.invited_at is not None and self.password_changed_at is None

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_active(self) -> bool:
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = hash_secret(password)

    def check_password(self, password: str) -> bool:
        return verify_secret(self.password_hash, password)

    @staticmethod
    def burn_password_check(password: str) -> None:
        try:
            hasher = _hasher()
            hasher.verify(_dummy_hash(hasher), password)
        except VerificationError:
            pass


class StaffToken(db.Model):
    """A single-use link for one staff user (an invitation or a password reset). Only the SHA-256 of the
    random token is stored: a database reader cannot turn a row into a working link."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # invite | reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RecoveryCode(db.Model):
    """One of a staff user's ten single-use two-factor recovery codes: salted SHA-256, never the code."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class AuditEvent(db.Model):
    """Append-only record of who did or read what. `details` never holds patient data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # --- reports: audit hash chain (portal/security/audit_chain.py) ---
    seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    # --- end reports: audit hash chain ---


# --- reports: audit hash chain head ---
class AuditChainHead(db.Model):
    """One row (id 1): the last link of the audit chain. Appends lock this row first, so
    concurrent writers (threads or processes) chain one after the other."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default="")
# --- end reports: audit hash chain head ---
