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

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db, redis_client
from portal.partners.models import (BOOKED, BOOKED_ELSEWHERE, CANCELLED, CURRENT_STATUSES, DECLINED, PARTNER_ROLES,
                                    SCHEDULED, TRIAGE, CareRequest, CareRequestUser, Partner, PartnerPatient, PartnerUser)
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


# --- partners and users --------------------------------------------------------------------------

def create_partner(*, name: str, tenant: str, idp_issuer: str, idp_client_id: str, idp_client_secret: str | None,
                   self_scheduling: bool = True, eligibility_rules: dict | None = None) -> Partner:
    partner = Partner(name=name, tenant=tenant, idp_issuer=idp_issuer, idp_client_id=idp_client_id,
                      idp_client_secret=idp_client_secret, self_scheduling=self_scheduling,
                      eligibility_rules=eligibility_rules or {})
    db.session.add(partner)
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


def change_role(partner_id: int, user_id: int, role: str) -> None:
    if role not in PARTNER_ROLES:
        raise InvalidInput("Choose a role.")
    result = db.session.execute(update(PartnerUser).where(PartnerUser.partner_id == partner_id,
                                                          PartnerUser.id == user_id).values(role=role))
    if result.rowcount != 1:
        db.session.rollback()
        raise NotFound(user_id)
    audit.record("partner_user.role", partner_user_id=user_id, partner_id=partner_id, role=role)
    db.session.commit()


def deactivate_user(partner_id: int, user_id: int) -> None:
    result = db.session.execute(update(PartnerUser).where(PartnerUser.partner_id == partner_id,
                                                          PartnerUser.id == user_id).values(active=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise NotFound(user_id)
    audit.record("partner_user.deactivate", partner_user_id=user_id, partner_id=partner_id)
    db.session.commit()


def user_for_sign_in(partner: Partner, *, issuer: str, subject: str, email: str | None) -> PartnerUser | None:
    """The active user of this partner with this identity; an invited e-mail is linked on first sign-in.

    The issuer must be the partner's own: a token from tenant A's provider never signs anyone into B.
    """
    if issuer != partner.idp_issuer or not subject:
        return None
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
    if user is None or user.partner_id != partner.id or not user.active:
        db.session.rollback()
        return None
    user.last_login_at = utcnow()
    audit.record("partner.login", subject=user, actor=("partner", str(user.id)))
    db.session.commit()
    return user


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
    return db.session.get(CareRequest, care_request_id)


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
    appointment = scheduling.book_slot(slot_id, patient_id=patient_id, actor=("staff", str(staff_id)),
                                       description="Booked from triage")
    return _link_appointment(care_request_id, appointment.id)


def decline_from_triage(care_request_id: int, *, staff_id: int) -> None:
    result = db.session.execute(
        update(CareRequest).where(CareRequest.id == care_request_id, CareRequest.status == TRIAGE)
        .values(status=DECLINED, handled_at=utcnow(), handled_by_id=staff_id, version=CareRequest.version + 1))
    if result.rowcount != 1:
        db.session.rollback()
        if db.session.get(CareRequest, care_request_id) is None:
            raise NotFound(care_request_id)
        raise AlreadyHandled(care_request_id)
    audit.record("care_request.declined", care_request_id=care_request_id, actor=("staff", str(staff_id)))
    db.session.commit()
