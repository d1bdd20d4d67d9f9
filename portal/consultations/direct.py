"""The direct flow: a patient asks for a consultation themselves (source `direct`).

/start takes who they are and sends a sign-in link by e-mail; the link proves the address; the
insurer confirms the policy; the patient describes the need; the consultation enters the queue
and the patient waits in the same waiting room. Until the link is used, what they typed is kept
sealed in Redis for DIRECT_SIGNIN_MINUTES, under a hash of the link's token.
"""

import hashlib
import json
import secrets
from datetime import date

import redis
from flask import current_app
from flask_babel import gettext as _

from portal import live
from portal.consultations import services
from portal.consultations.clients import InsurerCoverageClient
from portal.consultations.models import Consultation
from portal.extensions import db, redis_client
from portal.notifications import services as outbox
from portal.patients.services import fetch_or_create_direct_patient
from portal.security import audit
from portal.security.crypto import decrypt, encrypt

PURPOSE = "direct.sign_in"


class SignInUnavailable(Exception):
    """Redis is down: the sign-in link cannot be issued now."""


def _key(raw: str) -> str:
    return "direct-sign-in:" + hashlib.sha256(raw.encode()).hexdigest()


def request_sign_in(*, email: str, first_name: str, last_name: str, birth_date: date, phone: str | None) -> None:
    """E-mail a one-time sign-in link to `email`."""
    raw = secrets.token_urlsafe(32)
    identity = {"email": email, "first_name": first_name, "last_name": last_name,
                "birth_date": birth_date.isoformat(), "phone": phone}
    try:
        redis_client().set(_key(raw), encrypt(json.dumps(identity), PURPOSE),
                           ex=current_app.config["DIRECT_SIGNIN_MINUTES"] * 60)
    except redis.RedisError:
        raise SignInUnavailable() from None
    # In the language of the page they asked from: the patient is not known yet.
    link = f"{current_app.config['PORTAL_URL']}/start/{raw}"
    mail = outbox.queue_email(to=email, subject=_("Your sign-in link"), kind="direct.sign_in",
                              text=_("Open this link to continue asking for a consultation: %(link)s\n"
                                     "It works once, for %(minutes)d minutes.",
                                     link=link, minutes=current_app.config["DIRECT_SIGNIN_MINUTES"]))
    db.session.commit()
    outbox.dispatch([mail])


def redeem_sign_in(raw: str) -> dict | None:
    """The identity the link was issued for, once; None for unknown, used or expired links."""
    if not raw or len(raw) > 100:
        return None
    try:
        sealed = redis_client().getdel(_key(raw))
    except redis.RedisError:
        return None
    return json.loads(decrypt(sealed.decode(), PURPOSE)) if sealed else None


def is_covered(policy_number: str) -> bool:
    """Ask the insurer (behind a timeout); raises ServiceUnavailable when it does not answer."""
    cfg = current_app.config
    return InsurerCoverageClient(cfg["SANDBOX_URL"], cfg["INSURER_API_KEY"],
                                 cfg["EXTERNAL_TIMEOUT_SECONDS"]).is_covered(policy_number)


def open_direct_consultation(identity: dict, *, policy_number: str, need: str, channel: str,
                             language: str | None = None) -> Consultation:
    """The consultation in the doctors' queue, for the returning patient or a new one.

    A patient is reused only when proven e-mail, last name and birth date all match an earlier
    direct patient (`patients.services.fetch_or_create_direct_patient`).
    """
    need = (need or "").strip()
    if not need:
        raise services.InvalidConsultation(_("describe what you need help with"))
    patient, reused = fetch_or_create_direct_patient(
        email=identity["email"], first_name=identity["first_name"], last_name=identity["last_name"],
        birth_date=date.fromisoformat(identity["birth_date"]), phone=identity.get("phone"), language=language)
    db.session.flush()
    channels = ["CHAT", channel] if channel != "CHAT" else ["CHAT"]
    consultation = services.create_consultation(patient_id=patient.id, source="direct", enabled_channels=channels,
                                                primary_channel=channel)
    consultation.need, consultation.policy_number = need[:2000], policy_number
    db.session.flush()
    audit.record("consultation.created", subject=consultation, patient_id=patient.id, source="direct",
                 returning_patient=reused, actor=("patient", str(patient.id)))
    db.session.commit()
    live.bump(services.QUEUE_TOPIC)
    return consultation
