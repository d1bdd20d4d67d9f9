"""Partner rules: users and sign-in linking, partner patients, care requests, the handoff token,
eligibility, self-scheduling and the triage queue. No Flask request here.

Every function that reads partner data takes the partner id and filters by it; callers get the
partner id from `policy.partner_scope(user)`, so a user of one partner never reaches another's rows.
"""

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal import live
from flask import current_app

from portal.extensions import db, redis_client
from portal.input_rules import MAX_STRING_CHARS, TextRejected, clean_text
from portal.notifications import services as outbox
from portal.partners.models import (BOOKED, BOOKED_ELSEWHERE, CANCELLED, CURRENT_STATUSES, DECLINED, PARTNER_ROLES,
                                    SCHEDULED, TENANT_PATTERN, TRIAGE, CareRequest, CareRequestUser, Partner,
                                    PartnerPatient, PartnerUser)
from portal.patients.models import Patient
from portal.scheduling import services as scheduling
from portal.security import audit
from portal.security.models import utcnow

log = logging.getLogger(__name__)

PAGE_SIZE = 25
HANDOFF_TTL_SECONDS = 600
MIN_SEARCH_LENGTH = 2
SEARCH_LIMIT = 20


class PartnerError(Exception):
    """Base of the errors callers show to people."""


class NotFound(PartnerError, LookupError):
    pass


class AlreadyHandled(PartnerError):
    """Someone else moved the care request on first."""


class InvalidInput(PartnerError, ValueError):
    pass


class InvalidSetting(InvalidInput):
    """A partner setting that cannot be saved; `field` names the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# --- partners and users --------------------------------------------------------------------------

def create_partner(*, name: str, tenant: str, idp_issuer: str, idp_client_id: str, idp_client_secret: str | None,
                   self_scheduling: bool = True, eligibility_rules: dict | None = None) -> Partner:
    partner = Partner(name=name, tenant=tenant, idp_issuer=idp_issuer, idp_client_id=idp_client_id,
                      idp_client_secret=idp_client_secret, self_scheduling=self_scheduling,
                      eligibility_rules=eligibility_rules or {})
    db.session.add(partner)
    db.session.commit()
    return partner


# --- partner settings (staff admins) ------------------------------------------------------------

RULE_KEYS = ("triage_symptoms", "triage_min_age", "triage_max_age")
MAX_SYMPTOMS = 50
MAX_SYMPTOM_LENGTH = 100
MAX_AGE = 130
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def check_eligibility_rules(rules) -> dict:
    """The eligibility rules as they are stored, or InvalidSetting naming the rule that is malformed.

    `triage_symptoms`: words that send a visit to triage when the reason contains them;
    `triage_min_age`: patients this old or older go to triage; `triage_max_age`: this young or younger.
    """
    if not isinstance(rules, dict):
        raise InvalidSetting("rules", "Eligibility rules must be an object.")
    unknown = sorted(set(rules) - set(RULE_KEYS))
    if unknown:
        raise InvalidSetting("rules", f"Unknown eligibility rule: {unknown[0]}.")
    symptoms = rules.get("triage_symptoms") or []
    if not isinstance(symptoms, list) or not all(isinstance(s, str) for s in symptoms):
        raise InvalidSetting("triage_symptoms", "Symptoms must be text, one per line.")
    try:
        symptoms = list(dict.fromkeys(clean_text(s, max_length=MAX_STRING_CHARS).lower() for s in symptoms
                                      if s.strip()))
    except TextRejected as exc:
        raise InvalidSetting("triage_symptoms", f"A symptom: {exc.message}.") from None
    if len(symptoms) > MAX_SYMPTOMS:
        raise InvalidSetting("triage_symptoms", f"Give at most {MAX_SYMPTOMS} symptoms.")
    if any(len(s) > MAX_SYMPTOM_LENGTH for s in symptoms):
        raise InvalidSetting("triage_symptoms", f"Keep each symptom under {MAX_SYMPTOM_LENGTH} characters.")
    checked: dict = {"triage_symptoms": symptoms} if symptoms else {}
    for key in ("triage_min_age", "triage_max_age"):
        value = rules.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE:
            raise InvalidSetting(key, f"Enter an age from 0 to {MAX_AGE}.")
        checked[key] = value
    oldest, youngest = checked.get("triage_min_age"), checked.get("triage_max_age")
    if oldest is not None and youngest is not None and youngest >= oldest:
        raise InvalidSetting("triage_max_age", "With these two ages every patient would go to triage.")
    return checked


def check_issuer(issuer: str) -> str:
    """An OIDC issuer URL: https, or http only on this machine (the sandbox provider)."""
    issuer = (issuer or "").strip()
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.query or parts.fragment or len(issuer) > 500:
        raise InvalidSetting("idp_issuer", "Enter the provider's issuer URL, e.g. https://login.example.org/.")
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        raise InvalidSetting("idp_issuer", "The issuer URL must start with https://.")
    return issuer


def list_partners() -> list[Partner]:
    return list(db.session.scalars(select(Partner).order_by(Partner.name, Partner.id)))


def get_partner(partner_id: int) -> Partner | None:
    return db.session.get(Partner, partner_id)


def _setting_text(field: str, value) -> str:
    try:
        return clean_text(value or "", max_length=200)
    except TextRejected as exc:
        raise InvalidSetting(field, "This field is required." if not (value or "").strip()
                             else exc.message[0].upper() + exc.message[1:] + ".") from None


def save_partner(partner_id: int | None, *, name: str, tenant: str, idp_issuer: str, idp_client_id: str,
                 idp_client_secret: str | None, self_scheduling: bool, eligibility_rules: dict) -> Partner:
    """Create a partner (partner_id None) or change its settings. An empty secret keeps the stored one.

    Sign-in picks up new provider settings at once (the authlib client is keyed by them). When the
    issuer changes, the partner's users are unlinked: subjects belong to one provider, so each user
    is linked again by their e-mail at their next sign-in at the new one.
    """
    tenant = (tenant or "").strip()
    if not TENANT_PATTERN.fullmatch(tenant):
        raise InvalidSetting("tenant", "Use lower-case letters, digits and hyphens (e.g. north-care).")
    settings = {"name": _setting_text("name", name), "tenant": tenant, "idp_issuer": check_issuer(idp_issuer),
                "idp_client_id": _setting_text("idp_client_id", idp_client_id), "self_scheduling": bool(self_scheduling),
                "eligibility_rules": check_eligibility_rules(eligibility_rules)}
    if idp_client_secret:
        settings["idp_client_secret"] = idp_client_secret
    elif partner_id is None:
        raise InvalidSetting("idp_client_secret", "Enter the client secret.")
    partner = Partner() if partner_id is None else db.session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(partner_id)
    # Names of what changed, never values: the secret must not reach the audit log.
    changed = sorted(k for k, v in settings.items() if partner_id is None or k == "idp_client_secret"
                     or getattr(partner, k) != v)
    issuer_changed = partner_id is not None and partner.idp_issuer != settings["idp_issuer"]
    for key, value in settings.items():
        setattr(partner, key, value)
    db.session.add(partner)
    try:
        db.session.flush()
    except IntegrityError:  # the unique tenant: another admin saved the same slug first
        db.session.rollback()
        raise InvalidSetting("tenant", "Another partner has this tenant slug.") from None
    unlinked = 0
    if issuer_changed:
        unlinked = db.session.execute(update(PartnerUser).where(PartnerUser.partner_id == partner.id)
                                      .values(idp_issuer=None, idp_subject=None)).rowcount
    audit.record("partner.create" if partner_id is None else "partner.settings", subject=partner,
                 partner_id=partner.id, changed=changed, users_unlinked=unlinked)
    db.session.commit()
    return partner


def partner_by_tenant(tenant: str) -> Partner | None:
    return db.session.scalar(select(Partner).where(Partner.tenant == tenant, Partner.active.is_(True)))


def invite_user(partner_id: int, *, email: str, role: str, name: str | None = None) -> PartnerUser:
    """An invited user signs in later; the first sign-in with this e-mail links their identity."""
    email = (email or "").strip().lower()
    if role not in PARTNER_ROLES:
        raise InvalidInput("Choose a role.")
    if "@" not in email or len(email) > 254:
        raise InvalidInput("Enter an e-mail address.")
    user = PartnerUser(partner_id=partner_id, email=email, role=role, name=name)
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        raise InvalidInput("That e-mail address is already invited.") from None
    audit.record("partner_user.invite", subject=user, partner_id=partner_id)
    db.session.commit()
    return user


def list_users(partner_id: int) -> list[PartnerUser]:
    return list(db.session.scalars(select(PartnerUser).where(PartnerUser.partner_id == partner_id)
                                   .order_by(PartnerUser.email)))


def get_user(partner_id: int, user_id: int) -> PartnerUser | None:
    return db.session.scalar(select(PartnerUser).where(PartnerUser.partner_id == partner_id,
                                                       PartnerUser.id == user_id))


class LastAdmin(PartnerError):
    """The change would leave the partner without an active partner_admin."""


def _lock_partner(partner_id: int) -> None:
    # Changes to one partner's admins queue up behind a row lock on the partner (PostgreSQL), so of
    # two admins demoting each other at once the second re-reads after the first committed. SQLite
    # ignores FOR UPDATE; its writes already start with BEGIN IMMEDIATE and so run one at a time.
    db.session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())


def _keeps_an_admin(partner_id: int, user_id: int):
    """SQL condition: after changing this user the partner still has an active partner_admin."""
    others = (select(func.count()).select_from(PartnerUser)
              .where(PartnerUser.partner_id == partner_id, PartnerUser.id != user_id,
                     PartnerUser.role == "partner_admin", PartnerUser.active.is_(True))
              .scalar_subquery())
    return or_(PartnerUser.role != "partner_admin", PartnerUser.active.is_(False), others > 0)


def _change_user(partner_id: int, user_id: int, values: dict, keep_admin: bool) -> None:
    """One conditional UPDATE; refuses (LastAdmin) a change that would remove the last admin."""
    _lock_partner(partner_id)
    statement = update(PartnerUser).where(PartnerUser.partner_id == partner_id, PartnerUser.id == user_id)
    if keep_admin:
        statement = statement.where(_keeps_an_admin(partner_id, user_id))
    result = db.session.execute(statement.values(**values).execution_options(synchronize_session=False))
    if result.rowcount == 1:
        return
    db.session.rollback()
    if get_user(partner_id, user_id) is None:
        raise NotFound(user_id)
    raise LastAdmin("This is the last partner admin of your organisation. Make someone else partner admin first.")


def change_role(partner_id: int, user_id: int, role: str) -> None:
    if role not in PARTNER_ROLES:
        raise InvalidInput("Choose a role.")
    _change_user(partner_id, user_id, {"role": role}, keep_admin=role != "partner_admin")
    audit.record("partner_user.role", partner_user_id=user_id, partner_id=partner_id, role=role)
    db.session.commit()


def deactivate_user(partner_id: int, user_id: int) -> None:
    _change_user(partner_id, user_id, {"active": False}, keep_admin=True)
    audit.record("partner_user.deactivate", partner_user_id=user_id, partner_id=partner_id)
    db.session.commit()


def user_for_sign_in(partner: Partner, *, issuer: str, subject: str, email: str | None) -> PartnerUser | None:
    """The active user of this partner with this identity; an invited e-mail is linked on first sign-in.

    The issuer must be the partner's own: a token from tenant A's provider never signs anyone into B.
    A refusal is logged with its reason and the tenant only (no e-mail, no subject), so support can
    tell "not invited" from "the provider sent no e-mail" without personal data in the logs.
    """
    if issuer != partner.idp_issuer or not subject:
        return _refuse(partner, "issuer_mismatch" if subject else "no_subject")
    user = db.session.scalar(select(PartnerUser).where(PartnerUser.idp_issuer == issuer,
                                                       PartnerUser.idp_subject == subject))
    if user is None and email:
        # Link only a not-yet-linked invitation of this partner (conditional UPDATE: once).
        result = db.session.execute(
            update(PartnerUser)
            .where(PartnerUser.partner_id == partner.id, PartnerUser.email == email.strip().lower(),
                   PartnerUser.idp_subject.is_(None))
            .values(idp_issuer=issuer, idp_subject=subject))
        if result.rowcount == 1:
            user = db.session.scalar(select(PartnerUser).where(PartnerUser.idp_issuer == issuer,
                                                               PartnerUser.idp_subject == subject))
            audit.record("partner_user.linked", subject=user, actor=("partner", str(user.id)))
    if user is None:
        return _refuse(partner, "not_invited" if email else "no_verified_email")
    if user.partner_id != partner.id:
        return _refuse(partner, "other_partner")
    if not user.active:
        return _refuse(partner, "deactivated")
    user.last_login_at = utcnow()
    audit.record("partner.login", subject=user, actor=("partner", str(user.id)))
    db.session.commit()
    return user


def _refuse(partner: Partner, reason: str) -> None:
    db.session.rollback()
    log.warning("partner sign-in refused: tenant=%s reason=%s", partner.tenant, reason)
    return None


def update_profile(user: PartnerUser, *, name: str | None, notification_email: str | None,
                   default_service_id: int | None) -> None:
    user.name = (name or "").strip()[:200] or None
    user.notification_email = (notification_email or "").strip().lower()[:254] or None
    user.default_service_id = default_service_id
    db.session.commit()


# --- partner patients ----------------------------------------------------------------------------

def search_patients(partner_id: int, query: str) -> list[Patient]:
    """This partner's patients whose name, birth date (YYYY-MM-DD) or phone matches; at least two characters."""
    query = (query or "").strip()
    if len(query) < MIN_SEARCH_LENGTH:
        return []
    conditions = []
    try:
        conditions.append(Patient.birth_date == date.fromisoformat(query))
    except ValueError:
        pattern = "%" + query.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
        full_name = func.lower(Patient.first_name + " " + Patient.last_name)
        conditions.append(full_name.like(pattern))
        digits = "".join(ch for ch in query if ch.isdigit())
        if len(digits) >= MIN_SEARCH_LENGTH:
            conditions.append(Patient.phone.like(f"%{digits}%"))
    return list(db.session.scalars(
        select(Patient).join(PartnerPatient, PartnerPatient.patient_id == Patient.id)
        .where(PartnerPatient.partner_id == partner_id, or_(*conditions))
        .order_by(Patient.last_name, Patient.first_name, Patient.id).limit(SEARCH_LIMIT)))


def get_partner_patient(partner_id: int, patient_id: int) -> Patient | None:
    return db.session.scalar(select(Patient).join(PartnerPatient, PartnerPatient.patient_id == Patient.id)
                             .where(PartnerPatient.partner_id == partner_id, Patient.id == patient_id))


def create_partner_patient(partner_id: int, *, first_name: str, last_name: str, birth_date: date,
                           phone: str) -> Patient:
    patient = Patient(first_name=first_name.strip(), last_name=last_name.strip(), birth_date=birth_date,
                      phone=phone)
    db.session.add(patient)
    db.session.flush()
    db.session.add(PartnerPatient(partner_id=partner_id, patient_id=patient.id))
    audit.record("partner_patient.create", subject=patient, patient_id=patient.id, partner_id=partner_id)
    db.session.commit()
    return patient


# --- care requests -------------------------------------------------------------------------------

def live_topic(partner_id: int) -> str:
    """One change counter per partner: a partner's list never learns of another partner's changes."""
    return f"care-requests:{partner_id}"


def _status_changed(partner_id: int) -> None:
    # Called after the commit, so a page that polls sees the new status when it re-reads.
    live.bump(live_topic(partner_id))


@dataclass(frozen=True)
class CareRequestRow:
    id: int
    status: str
    created_at: datetime
    patient_name: str
    service_name: str | None
    appointment_start: datetime | None


def list_care_requests(partner_id: int, *, tab: str = "current", page: int = 1) -> tuple[list[CareRequestRow], bool]:
    """One page (25) of the partner's care requests, newest first, and whether there is a next page."""
    from portal.scheduling.models import Appointment, HealthcareService

    page = max(1, min(page, 100_000))
    statuses = CURRENT_STATUSES if tab == "current" else tuple(
        s for s in (DECLINED, CANCELLED, BOOKED, SCHEDULED, TRIAGE, BOOKED_ELSEWHERE) if s not in CURRENT_STATUSES)
    query = (select(CareRequest.id, CareRequest.status, CareRequest.created_at, Patient.first_name,
                    Patient.last_name, HealthcareService.name, Appointment.start)
             .join(Patient, Patient.id == CareRequest.patient_id)
             .outerjoin(HealthcareService, HealthcareService.id == CareRequest.healthcare_service_id)
             .outerjoin(Appointment, Appointment.id == CareRequest.appointment_id)
             .where(CareRequest.partner_id == partner_id, CareRequest.status.in_(statuses))
             .order_by(CareRequest.created_at.desc(), CareRequest.id.desc())
             .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE))
    rows = [CareRequestRow(r[0], r[1], r[2], f"{r[3]} {r[4]}", r[5], r[6]) for r in db.session.execute(query)]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def get_care_request(partner_id: int, care_request_id: int) -> CareRequest | None:
    return db.session.scalar(select(CareRequest).where(CareRequest.partner_id == partner_id,
                                                       CareRequest.id == care_request_id))


def _add_user(care_request: CareRequest, user: PartnerUser) -> None:
    db.session.add(CareRequestUser(care_request_id=care_request.id, partner_id=care_request.partner_id,
                                   partner_user_id=user.id))


# --- handoff -------------------------------------------------------------------------------------

def token_hash(token: str) -> str:
    """What logs and audit events carry instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def issue_handoff(*, partner_id: int, user_id: int, patient_id: int, answers: dict | None = None) -> str:
    """Store the prefill under a random opaque token for ten minutes; the URL carries only the token."""
    token = secrets.token_urlsafe(32)
    prefill = {"partner_id": partner_id, "user_id": user_id, "patient_id": patient_id, "answers": answers or {}}
    redis_client().set(f"handoff:{token}", json.dumps(prefill), ex=HANDOFF_TTL_SECONDS)
    log.info("handoff issued token=%s partner=%s user=%s", token_hash(token), partner_id, user_id)
    return token


def redeem_handoff(token: str, *, partner_id: int, user_id: int) -> dict | None:
    """The prefill, once. None for an unknown, expired, reused or someone else's token."""
    if not token or len(token) > 100:
        return None
    raw = redis_client().getdel(f"handoff:{token}")
    if raw is None:
        log.info("handoff refused token=%s (unknown, expired or used)", token_hash(token))
        return None
    prefill = json.loads(raw)
    if prefill.get("partner_id") != partner_id or prefill.get("user_id") != user_id:
        log.warning("handoff refused token=%s (issued to another user)", token_hash(token))
        return None
    log.info("handoff redeemed token=%s partner=%s user=%s", token_hash(token), partner_id, user_id)
    return prefill


# --- eligibility, self-scheduling, triage --------------------------------------------------------

def age_on(birth_date: date | None, today: date) -> int | None:
    if birth_date is None:
        return None
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def triage_reason(partner: Partner, patient: Patient, reason: str, today: date) -> str | None:
    """Why this visit must go to triage under the partner's rules, or None when it may be self-scheduled."""
    if not partner.self_scheduling:
        return "Self-scheduling is off for this partner"
    rules = partner.eligibility_rules or {}
    text = (reason or "").lower()
    for symptom in rules.get("triage_symptoms") or []:
        if isinstance(symptom, str) and symptom and symptom.lower() in text:
            return "Symptom needs triage"
    age = age_on(patient.birth_date, today)
    oldest, youngest = rules.get("triage_min_age"), rules.get("triage_max_age")
    if age is not None:
        # Rules are data an operator typed: a value that is not a number is ignored, never a 500.
        if isinstance(oldest, int) and age >= oldest:
            return "Age needs triage"
        if isinstance(youngest, int) and age <= youngest:
            return "Age needs triage"
    return None


def _new_care_request(user: PartnerUser, patient_id: int, *, service_id: int | None, reason: str,
                      answers: dict, callback_phone: str | None, status: str, why: str | None = None) -> CareRequest:
    care_request = CareRequest(partner_id=user.partner_id, patient_id=patient_id, status=status,
                               healthcare_service_id=service_id, reason=reason, answers=json.dumps(answers),
                               callback_phone=callback_phone, triage_reason=why, created_by_id=user.id)
    db.session.add(care_request)
    db.session.flush()
    _add_user(care_request, user)
    return care_request


def send_to_triage(user: PartnerUser, patient_id: int, *, service_id: int | None, reason: str, answers: dict,
                   callback_phone: str | None, why: str) -> CareRequest:
    care_request = _new_care_request(user, patient_id, service_id=service_id, reason=reason, answers=answers,
                                     callback_phone=callback_phone, status=TRIAGE, why=why)
    audit.record("care_request.triage", subject=care_request, patient_id=patient_id,
                 actor=("partner", str(user.id)))
    db.session.commit()
    _status_changed(user.partner_id)
    return care_request


def self_schedule(user: PartnerUser, patient_id: int, *, slot_id: int, reason: str, answers: dict,
                  callback_phone: str | None) -> CareRequest:
    """Book the slot through the booking service and record the care request as scheduled.

    The care request joins the booking's transaction, so it exists only when the booking succeeded;
    SlotTaken / SlotNotFound / SlotInPast from the booking service leave nothing behind.
    """
    from portal.scheduling.models import Slot

    slot = db.session.get(Slot, slot_id)
    if slot is None:
        db.session.rollback()
        raise scheduling.SlotNotFound(slot_id)
    care_request = _new_care_request(user, patient_id, service_id=slot.healthcare_service_id, reason=reason,
                                     answers=answers, callback_phone=callback_phone, status=SCHEDULED)
    care_request_id = care_request.id
    audit.record("care_request.scheduled", subject=care_request, patient_id=patient_id,
                 actor=("partner", str(user.id)))
    appointment = scheduling.book_slot(slot_id, patient_id=patient_id, actor=("partner", str(user.id)),
                                       description="Partner self-scheduling")
    return _link_appointment(care_request_id, appointment.id)


def _link_appointment(care_request_id: int, appointment_id: int) -> CareRequest:
    db.session.execute(update(CareRequest).where(CareRequest.id == care_request_id)
                       .values(appointment_id=appointment_id))
    db.session.commit()
    care_request = db.session.get(CareRequest, care_request_id)
    _status_changed(care_request.partner_id)
    return care_request


def triage_queue() -> list[CareRequest]:
    return list(db.session.scalars(select(CareRequest).where(CareRequest.status == TRIAGE)
                                   .order_by(CareRequest.created_at, CareRequest.id).limit(200)))


def get_triage_request(care_request_id: int) -> CareRequest | None:
    return db.session.get(CareRequest, care_request_id)


def book_from_triage(care_request_id: int, slot_id: int, *, staff_id: int) -> CareRequest:
    """The secretary books a triaged request into a slot (booking service) → `booked`. Once only.

    The status change (a conditional UPDATE) and the booking commit together; a taken slot
    rolls both back and the request stays in triage.
    """
    care_request = db.session.get(CareRequest, care_request_id)
    if care_request is None:
        raise NotFound(care_request_id)
    patient_id = care_request.patient_id
    result = db.session.execute(
        update(CareRequest).where(CareRequest.id == care_request_id, CareRequest.status == TRIAGE)
        .values(status=BOOKED, handled_at=utcnow(), handled_by_id=staff_id, version=CareRequest.version + 1)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise AlreadyHandled(care_request_id)
    audit.record("care_request.booked", patient_id=patient_id, actor=("staff", str(staff_id)),
                 care_request_id=care_request_id)
    from portal.scheduling.models import Slot

    slot = db.session.get(Slot, slot_id)
    when = f" for {slot.start:%Y-%m-%d %H:%M} UTC" if slot is not None else ""
    # Queued before the booking, so it commits with it (book_slot commits) or not at all.
    notifications = _tell_creator(care_request, f"was booked by the clinic{when}")
    appointment = scheduling.book_slot(slot_id, patient_id=patient_id, actor=("staff", str(staff_id)),
                                       description="Booked from triage")
    care_request = _link_appointment(care_request_id, appointment.id)
    outbox.dispatch(notifications)
    return care_request


def _tell_creator(care_request: CareRequest, outcome: str) -> list:
    """E-mail the triage outcome to the creator's notification address, if they gave one.

    Only the care request number and the outcome: no patient data leaves by e-mail.
    """
    creator = db.session.get(PartnerUser, care_request.created_by_id)
    if creator is None or not creator.active or not creator.notification_email:
        return []
    link = f"{current_app.config['PORTAL_URL'].rstrip('/')}/partner/care-requests/{care_request.id}"
    return [outbox.queue_email(to=creator.notification_email, subject=f"Care request {care_request.id}: {outcome}",
                               text=f"Care request {care_request.id} {outcome}.\nDetails (sign-in needed): {link}",
                               kind="care_request.outcome")]


def finish_triage_elsewhere(care_request_id: int, *, staff_id: int, where: str) -> bool:
    """A secretary booked a triaged request at another service: `triage` → `booked_elsewhere`, once.

    Commits the caller's transaction (the record of the remote booking stands either way: it is
    made at the provider). Returns False when someone else handled the request meanwhile.
    """
    marked = db.session.execute(
        update(CareRequest).where(CareRequest.id == care_request_id, CareRequest.status == TRIAGE)
        .values(status=BOOKED_ELSEWHERE, handled_at=utcnow(), handled_by_id=staff_id,
                version=CareRequest.version + 1)
        .execution_options(synchronize_session=False)).rowcount == 1
    care_request = db.session.get(CareRequest, care_request_id) if marked else None
    notifications = _tell_creator(care_request, f"was booked by the clinic at another service ({where})") \
        if marked else []
    db.session.commit()
    if marked:
        outbox.dispatch(notifications)
        _status_changed(care_request.partner_id)
    return marked


def decline_from_triage(care_request_id: int, *, staff_id: int) -> None:
    result = db.session.execute(
        update(CareRequest).where(CareRequest.id == care_request_id, CareRequest.status == TRIAGE)
        .values(status=DECLINED, handled_at=utcnow(), handled_by_id=staff_id, version=CareRequest.version + 1))
    if result.rowcount != 1:
        db.session.rollback()
        if db.session.get(CareRequest, care_request_id) is None:
            raise NotFound(care_request_id)
        raise AlreadyHandled(care_request_id)
    care_request = db.session.get(CareRequest, care_request_id)
    audit.record("care_request.declined", care_request_id=care_request_id, actor=("staff", str(staff_id)))
    notifications = _tell_creator(care_request, "was declined by the clinic")
    db.session.commit()
    outbox.dispatch(notifications)
    _status_changed(care_request.partner_id)
