"""Checking what the referral system sends: its signature and its payload.

Pure functions, no Flask request: the webhook view and the tests call them alike.
"""

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from portal.input_rules import InputRejected, TextRejected, clean_text, load_json, parse_instant
from portal.patients.identifiers import InvalidIdentifier, normalise_email, normalise_fodselsnummer, parse_phone

MAX_BODY_BYTES = 64 * 1024
REQUIRED = ("JournalGuid", "PID", "FormatId", "MessageTimestamp", "Firstname", "Lastname", "PhoneNumber")
KNOWN = set(REQUIRED) | {"Email"}
NAME_MAX = 200
# Unix seconds in ASCII digits: str.isdigit() also takes "²" and "٣", which int() then refuses or reads,
# and 309 digits overflow the float subtraction. Twelve digits last until the year 33658.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_problem(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
                      max_skew: int) -> str | None:
    """Why the signature is not acceptable, or None when it is."""
    if not timestamp or not signature:
        return "X-Referral-Timestamp and X-Referral-Signature headers are required"
    if not _UNIX_SECONDS.fullmatch(timestamp):
        return "X-Referral-Timestamp must be unix seconds"
    if abs(now - int(timestamp)) > max_skew:
        return "X-Referral-Timestamp is too far from the current time"
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode()):
        return "X-Referral-Signature does not match the body"
    return None


@dataclass(frozen=True)
class ReferralIn:
    journal_guid: str
    fodselsnummer: str
    format_id: str
    message_timestamp: datetime
    first_name: str
    last_name: str
    email: str | None
    phone: str
    phone_needs_check: bool
    canonical: str  # the payload as canonical JSON: what "same content" is judged on


class InvalidReferral(ValueError):
    def __init__(self, errors: list[dict], unreadable: bool = False):
        super().__init__("invalid referral")
        self.errors = errors
        self.unreadable = unreadable  # 400: the body could not be read; else 422: fields are wrong


def parse_timestamp(value: str) -> datetime:
    return parse_instant(value, zone_required=True)


def _text(payload: dict, field: str, errors: list, max_length: int = NAME_MAX) -> str | None:
    value = payload.get(field)
    if not isinstance(value, str):
        errors.append({"field": field, "message": _("must be a string")})
        return None
    try:
        return clean_text(value, max_length=max_length)
    except TextRejected as exc:
        errors.append({"field": field, "message": exc.message})
        return None


def parse_referral(body: bytes) -> ReferralIn:
    """Validate the payload; raise InvalidReferral naming every bad field at once.

    An unreadable body (not JSON, too deep, a number or string over its limit, not Unicode) is one
    error whose field is where it broke the rule, or None for the body as a whole; the view answers 400.
    """
    try:
        payload = load_json(body)
    except InputRejected as exc:
        raise InvalidReferral([{"field": exc.field, "message": exc.message}], unreadable=True) from None
    if not isinstance(payload, dict):
        raise InvalidReferral([{"field": None, "message": _("must be a JSON object")}], unreadable=True)

    errors: list[dict] = [
        {"field": f, "message": "is required"} for f in REQUIRED if f not in payload or payload[f] is None
    ]
    missing = {e["field"] for e in errors}

    def check(field, convert):
        if field in missing:
            return None
        raw = _text(payload, field, errors)
        if raw is None:
            return None
        try:
            return convert(raw)
        except (InvalidIdentifier, ValueError) as exc:
            errors.append({"field": field, "message": str(exc)})
            return None

    guid = check("JournalGuid", lambda v: str(uuid.UUID(v)))
    fnr = check("PID", normalise_fodselsnummer)
    format_id = check("FormatId", lambda v: v)
    timestamp = check("MessageTimestamp", parse_timestamp)
    first = check("Firstname", lambda v: v)
    last = check("Lastname", lambda v: v)
    phone = check("PhoneNumber", parse_phone)
    email = None
    if payload.get("Email") not in (None, ""):
        email = check("Email", normalise_email)
    if errors:
        raise InvalidReferral(errors)
    return ReferralIn(
        journal_guid=guid, fodselsnummer=fnr, format_id=format_id, message_timestamp=timestamp,
        first_name=first, last_name=last, email=email, phone=phone.e164, phone_needs_check=phone.needs_check,
        canonical=json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    )
