"""The patient identity check shared by every patient link: last name + date of birth, with a lockout.

Failures are counted in Redis under a key the caller chooses (per patient and purpose, never per
link, so a fresh link does not reset the count). Without Redis the check fails closed.
"""

from datetime import date

import redis
from flask import current_app

from portal.extensions import redis_client


class IdentityLocked(Exception):
    """Too many failed checks (or the counter is unreachable): try again later."""


def identity_matches(patient, *, last_name: str | None, birth_date: date | None) -> bool:
    """Last name (case and spacing ignored) and date of birth must both match."""
    if patient is None or birth_date is None or patient.birth_date != birth_date:
        return False
    return " ".join((last_name or "").split()).casefold() == " ".join(patient.last_name.split()).casefold()


def identity_locked(lock_key: str) -> bool:
    try:
        failures = int(redis_client().get(lock_key) or 0)
    except redis.RedisError:
        return True  # fail closed: without the counter we cannot enforce the lock
    return failures >= current_app.config["PATIENT_CHECK_MAX_FAILURES"]


def count_failure(lock_key: str) -> None:
    """Count one failed check; raise IdentityLocked when this one reaches the limit."""
    cfg = current_app.config
    try:
        pipe = redis_client().pipeline()
        pipe.incr(lock_key)
        pipe.expire(lock_key, cfg["PATIENT_CHECK_LOCK_MINUTES"] * 60)
        failures = pipe.execute()[0]
    except redis.RedisError:
        raise IdentityLocked() from None
    if failures >= cfg["PATIENT_CHECK_MAX_FAILURES"]:
        raise IdentityLocked()
