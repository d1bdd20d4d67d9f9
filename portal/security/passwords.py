"""Staff passwords: the policy a new password must meet, and single-use links (invitations, resets).

A link's token is 32 random bytes; only its SHA-256 is stored (the token has 256 bits of entropy, so a
fast hash is enough: nobody can guess it back). Redeeming is one conditional UPDATE, so of two
browsers using one link at once exactly one gets through.
"""

import hashlib
import re
import secrets
from datetime import timedelta
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import select, update

from portal.extensions import db
from portal.security.models import StaffToken, StaffUser, utcnow

MIN_LENGTH = 12
MAX_LENGTH = 200
INVITE = "invite"
RESET = "reset"
LIFETIMES = {INVITE: timedelta(hours=72), RESET: timedelta(minutes=30)}


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's frequency list (from real leaked password sets)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, email: str = "") -> str | None:
    """Why this password will not do, or None. Length and a list of common passwords (ASVS 2.1.1, 2.1.7);
    no rules about character classes (ASVS 2.1.9)."""
    if len(password) < MIN_LENGTH:
        return _("Use at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Use at most %(n)d characters.", n=MAX_LENGTH)
    lowered = password.lower()
    # "password1234" and "Monkey123456!" are a common password with digits or symbols tacked on.
    stem = re.sub(r"[\d\W_]+$", "", lowered)
    common = _common_passwords()
    if lowered in common or (len(stem) >= 4 and stem in common) or len(set(lowered)) < 4:
        return _("This password is too common. Choose another (a few unrelated words work well).")
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        return _("Do not use your e-mail address in your password.")
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link_token(user: StaffUser, purpose: str) -> str:
    """A new single-use token for the user (in the caller's transaction); earlier unused ones of the same
    purpose stop working, so only the newest e-mail's link opens."""
    now = utcnow()
    db.session.execute(update(StaffToken)
                       .where(StaffToken.user_id == user.id, StaffToken.purpose == purpose,
                              StaffToken.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(32)
    db.session.add(StaffToken(user_id=user.id, purpose=purpose, token_hash=_token_hash(token), created_at=now,
                              expires_at=now + LIFETIMES[purpose]))
    return token


def user_for_token(token: str, purpose: str) -> StaffUser | None:
    """The user a still-valid link belongs to, without using it up (to show the form)."""
    if not token or len(token) > 100:
        return None
    row = db.session.scalar(select(StaffToken).where(StaffToken.token_hash == _token_hash(token),
                                                     StaffToken.purpose == purpose))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    user = db.session.get(StaffUser, row.user_id)
    return user if user is not None and user.active else None


def use_token(token: str, purpose: str) -> StaffUser | None:
    """Use the link up (once: the conditional UPDATE decides) and return its user, or None."""
    user = user_for_token(token, purpose)
    if user is None:
        return None
    now = utcnow()
    result = db.session.execute(update(StaffToken)
                                .where(StaffToken.token_hash == _token_hash(token), StaffToken.used_at.is_(None),
                                       StaffToken.expires_at > now)
                                .values(used_at=now).execution_options(synchronize_session=False))
    return user if result.rowcount == 1 else None


def set_password(user: StaffUser, password: str) -> None:
    """Store a new password (the caller checked the policy) and move the session epoch on, so that every
    cookie issued before stops working; the caller ends the Redis records after its commit."""
    user.set_password(password)
    user.password_changed_at = utcnow()
    user.session_epoch = (user.session_epoch or 0) + 1
