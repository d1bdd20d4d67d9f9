"""Two-factor sign-in for staff: TOTP (RFC 6238, pyotp) and ten single-use recovery codes.

The TOTP secret is sealed like every other secret (`EncryptedText`). A code is accepted for the time step
it belongs to (one step either side, for clocks that drift) only if that step is later than the last one
accepted: one conditional UPDATE moves `totp_last_step` on, so a code is never taken twice, not even by
two requests at once. Recovery codes have 50 bits of randomness, so each is stored as SHA-256 with its
own random salt (ASVS 2.6.2), and used once (a conditional UPDATE on `used_at`).
"""

import hashlib
import hmac
import logging
import secrets
import time

import pyotp
import segno
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update

from portal.extensions import db
from portal.security.models import RecoveryCode, StaffUser, utcnow

log = logging.getLogger(__name__)

ISSUER = "Care Portal"
STEP_SECONDS = 30
RECOVERY_CODES = 10
# Base32 without 0/1/8/9 lookalikes: what a person copies from paper.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz234567"


def required_for(user: StaffUser) -> bool:
    return user.role in current_app.config["TWO_FACTOR_REQUIRED_ROLES"]


def pending_secret(user: StaffUser) -> str:
    """The secret being set up: made on first use and kept (sealed) until a code confirms it."""
    if user.totp_secret is None:
        user.totp_secret = pyotp.random_base32()
        db.session.commit()
    return user.totp_secret


def provisioning_uri(user: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, made here (no image service sees the secret)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, title=_("QR code for your authenticator app"),
                                                  dark="#000", light="#fff")


def _matching_step(secret: str, code: str) -> int | None:
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // STEP_SECONDS
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _take_step(user: StaffUser, step: int) -> bool:
    """Accept the step once: of two requests with the same (or an older) code, only one moves it on."""
    result = db.session.execute(
        update(StaffUser).where(StaffUser.id == user.id,
                                or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return result.rowcount == 1


def verify_code(user: StaffUser, code: str) -> bool:
    """A TOTP code of the user's enabled secret, not used before (caller commits). A right code used again
    is refused and logged (ASVS 2.8.5): someone may have seen it over the person's shoulder."""
    if user.totp_enabled_at is None or not user.totp_secret:
        return False
    step = _matching_step(user.totp_secret, code)
    if step is None:
        return False
    if not _take_step(user, step):
        log.warning("two-factor code replayed for staff user %s (time step %s already used)", user.id, step)
        return False
    return True


def confirm_set_up(user: StaffUser, code: str) -> list[str] | None:
    """Turn two-factor on if the code matches the pending secret; the new recovery codes, or None."""
    if user.totp_secret is None:
        return None
    step = _matching_step(user.totp_secret, code)
    if step is None or not _take_step(user, step):
        return None
    user.totp_enabled_at = utcnow()
    return new_recovery_codes(user)


def _normalise(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256((salt + code).encode()).hexdigest()


def new_recovery_codes(user: StaffUser) -> list[str]:
    """Ten fresh codes (the old ones stop working), returned once to be shown once; stored hashed."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _n in range(RECOVERY_CODES):
        code = "".join(secrets.choice(_ALPHABET) for _c in range(10))
        salt = secrets.token_hex(16)
        db.session.add(RecoveryCode(user_id=user.id, salt=salt, code_hash=_hash(salt, code)))
        codes.append(f"{code[:5]}-{code[5:]}")
    return codes


def use_recovery_code(user: StaffUser, code: str) -> bool:
    """Sign in with a recovery code: each works once (caller commits)."""
    code = _normalise(code)
    if len(code) != 10:
        return False
    for row in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                            RecoveryCode.used_at.is_(None))):
        if hmac.compare_digest(row.code_hash, _hash(row.salt, code)):
            result = db.session.execute(update(RecoveryCode).where(RecoveryCode.id == row.id,
                                                                   RecoveryCode.used_at.is_(None))
                                        .values(used_at=utcnow()).execution_options(synchronize_session=False))
            return result.rowcount == 1
    return False


def recovery_codes_left(user: StaffUser) -> int:
    return len(list(db.session.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                                     RecoveryCode.used_at.is_(None)))))


def reset(user: StaffUser) -> None:
    """An admin's reset: the user sets two-factor up again at their next sign-in (caller audits, commits)."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.session_epoch = (user.session_epoch or 0) + 1
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def enable_with_secret(user: StaffUser, secret: str) -> None:
    """Demo data and tests: two-factor on with a known secret (no recovery codes)."""
    user.totp_secret = secret
    user.totp_enabled_at = user.totp_enabled_at or utcnow()


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()
