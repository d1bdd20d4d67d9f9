"""Chat JWTs and video keys, in exactly the formats the chat key service and video service expect.

Chat: HS256 with the room's shared secret; `iss` is the shared secret's id; the patient's token
lives a day, the doctor's fourteen; `scopes` are strings (CHAT_TOKEN_SCOPES, "1" as in the service's
example). Video: HS256 with the video service's secret.
The patient reference is always the consultation's real patient, never the consultation id.
"""

import time
import uuid
from dataclasses import dataclass

import jwt

from portal.security import verified_tokens

PATIENT_CHAT_TTL = 24 * 3600
DOCTOR_CHAT_TTL = 14 * 24 * 3600


class InvalidChatToken(Exception):
    pass


def consultation_ref(consultation) -> str:
    return f"Consultation/{consultation.id}"


def patient_ref(consultation) -> str:
    return f"Patient/{consultation.patient_id}"


def chat_jwt(consultation, chat_room, *, for_doctor: bool, scopes: list[str], now: int | None = None) -> str:
    now = int(time.time()) if now is None else now
    claims = {
        "iat": now,
        "exp": now + (DOCTOR_CHAT_TTL if for_doctor else PATIENT_CHAT_TTL),
        "iss": chat_room.shared_secret_id,
        "jti": str(uuid.uuid4()),
        "scopes": scopes,
        "recipients": [consultation_ref(consultation), patient_ref(consultation)],
        "join_team": True,
        "owner": consultation_ref(consultation) if for_doctor else patient_ref(consultation),
    }
    return jwt.encode(claims, chat_room.shared_secret, algorithm="HS256")


@dataclass(frozen=True)
class ChatSender:
    owner: str
    role: str  # "doctor" or "patient"


def verify_chat_jwt(token: str, consultation, chat_room) -> ChatSender:
    """Who may post with this token in this consultation's room; raises InvalidChatToken otherwise."""
    try:
        claims = verified_tokens.decode_hs256(token, chat_room.shared_secret, issuer=chat_room.shared_secret_id,
                                              options={"require": ["iat", "exp", "iss", "jti", "owner", "recipients"]})
    except jwt.PyJWTError as exc:
        raise InvalidChatToken(type(exc).__name__) from None
    recipients = claims.get("recipients")
    if not isinstance(recipients, list) or consultation_ref(consultation) not in recipients \
            or patient_ref(consultation) not in recipients:
        raise InvalidChatToken("token is for another conversation")
    owner = claims.get("owner")
    if owner == consultation_ref(consultation):
        return ChatSender(owner, "doctor")
    if owner == patient_ref(consultation):
        return ChatSender(owner, "patient")
    raise InvalidChatToken("token owner is not in this conversation")


def video_key(consultation, video_room, secret: str, *, for_doctor: bool, label: str, now: int | None = None) -> str:
    """The doctor's and the patient's keys for a room differ only in `o` and `ud` (and `iat`): the room's
    one `d` and its label `u` are shared, as in the video service's example; no person's name is in it."""
    claims = {
        "r": video_room.name,
        "o": for_doctor,
        "ud": consultation_ref(consultation) if for_doctor else patient_ref(consultation),
        "u": label,
        "d": video_room.key_uuid,
        "iat": int(time.time()) if now is None else now,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
