"""Consultation life cycle. Views and jobs call these; none of them touches a request."""

import secrets
import string

from portal.consultations.models import CATEGORIES, CHANNELS, Consultation
from portal.extensions import db

_CODE_ALPHABET = string.ascii_uppercase + string.digits


class InvalidConsultation(ValueError):
    pass


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def create_consultation(*, patient_id: int, source: str, enabled_channels: list[str], primary_channel: str,
                        category: str = "insurance", options: dict | None = None, referral_id: int | None = None,
                        created_by_id: int | None = None) -> Consultation:
    """A new consultation in `ready_for_pickup`, added to the caller's transaction."""
    channels = [c for c in CHANNELS if c in set(enabled_channels)]
    if not channels:
        raise InvalidConsultation("choose at least one channel")
    if primary_channel not in channels:
        raise InvalidConsultation("the primary channel must be one of the enabled channels")
    if category not in CATEGORIES:
        raise InvalidConsultation("unknown category")
    consultation = Consultation(
        code=new_code(), patient_id=patient_id, referral_id=referral_id, source=source, state="ready_for_pickup",
        category=category, enabled_channels=channels, primary_channel=primary_channel, options=options or {},
        created_by_id=created_by_id,
    )
    db.session.add(consultation)
    return consultation
