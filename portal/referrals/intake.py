"""Checking what the referral system sends: its signature and its payload.

Pure functions, no Flask request: the webhook view and the tests call them alike.
"""

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from portal.patients.identifiers import InvalidIdentifier, normalise_email, normalise_fodselsnummer, parse_phone

MAX_BODY_BYTES = 64 * 1024
REQUIRED = ("JournalGuid", "PID", "FormatId", "MessageTimestamp", "Firstname", "Lastname", "PhoneNumber")
KNOWN = set(REQUIRED) | {"Email"}
# ISO 8601 with any number of fractional digits (the referral system sends 7, Python reads 6).
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_problem(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
                      max_skew: int) -> str | None:
    """Why the signature is not acceptable, or None when it is."""
    if not timestamp or not signature:
        return "X-Referral-Timestamp and X-Referral-Signature headers are required"
    if not timestamp.isdigit():
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
    def __init__(self, errors: list[dict]):
        super().__init__("invalid referral")
        self.errors = errors


def parse_timestamp(value: str) -> datetime:
    match = _TIMESTAMP.match(value)
    if not match:
        raise ValueError("must be an ISO 8601 timestamp with a time zone")
    base, fraction, zone = match.groups()
    fraction = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone == "Z" else zone
    parsed = datetime.fromisoformat(f"{base}.{fraction}{zone}")
    return parsed.astimezone(timezone.utc).replace(tzinfo=None)


def _text(payload: dict, field: str, errors: list, max_length: int = 200) -> str | None:
    value = payload.get(field)
    if not isinstance(value, str) or not value.strip():
        errors.append({"field": field, "message": "must be a non-empty string"})
        return None
    if len(value) > max_length:
        errors.append({"field": field, "message": f"must be at most {max_length} characters"})
        return None
    return value.strip()


def parse_referral(body: bytes) -> ReferralIn:
    """Validate the payload; raise InvalidReferral naming every bad field at once."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidReferral([{"field": None, "message": "body is not valid JSON"}]) from None
    if not isinstance(payload, dict):
        raise InvalidReferral([{"field": None, "message": "body must be a JSON object"}])

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
