"""Care requests as partner staff make them: the partner's patients, the list, the handoff token,
eligibility and self-scheduling. No Flask request here.

Every function that reads partner data takes the partner id and filters by it; callers get the
partner id from `policy.partner_scope(user)`, so a user of one partner never reaches another's rows.
"""

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam, func, or_, select, update

from portal import live
from portal.care_requests.models import (
    AGE_NEEDS_TRIAGE,
    BOOKED,
    BOOKED_ELSEWHERE,
    CANCELLED,
    CURRENT_STATUSES,
    DECLINED,
    SCHEDULED,
    SELF_SCHEDULING_OFF,
    SYMPTOM_NEEDS_TRIAGE,
    TRIAGE,
    CareRequest,
    CareRequestUser,
    PartnerPatient,
)
from portal.extensions import db, redis_client
from portal.partners.models import Partner, PartnerUser
from portal.patients.models import Patient
from portal.scheduling import services as scheduling
from portal.scheduling.models import Appointment, HealthcareService, Slot
from portal.security import audit

log = logging.getLogger(__name__)

PAGE_SIZE = 25
HANDOFF_TTL_SECONDS = 600
MIN_SEARCH_LENGTH = 2
SEARCH_LIMIT = 20
SLOTS_SHOWN = 20
SLOT_SEARCH_DAYS = 14


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


def status_changed(partner_id: int) -> None:
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
    service_id: int | None = None


PAST_STATUSES = tuple(s for s in (DECLINED, CANCELLED, BOOKED, SCHEDULED, TRIAGE, BOOKED_ELSEWHERE)
                      if s not in CURRENT_STATUSES)


def _list_statement(statuses: tuple):
    # Built once per tab, with the partner and the page bound at each run: building the statement anew on
    # every request cost more than the database's work for it.
    return (select(CareRequest.id, CareRequest.status, CareRequest.created_at, Patient.first_name,
                   Patient.last_name, HealthcareService.name, Appointment.start, CareRequest.healthcare_service_id)
            .join(Patient, Patient.id == CareRequest.patient_id)
            .outerjoin(HealthcareService, HealthcareService.id == CareRequest.healthcare_service_id)
            .outerjoin(Appointment, Appointment.id == CareRequest.appointment_id)
            .where(CareRequest.partner_id == bindparam("partner_id"), CareRequest.status.in_(statuses))
            .order_by(CareRequest.created_at.desc(), CareRequest.id.desc())
            .limit(bindparam("limit")).offset(bindparam("offset")))


_LISTS = {"current": _list_statement(CURRENT_STATUSES), "past": _list_statement(PAST_STATUSES)}


def list_care_requests(partner_id: int, *, tab: str = "current", page: int = 1) -> tuple[list[CareRequestRow], bool]:
    """One page (25) of the partner's care requests, newest first, and whether there is a next page."""
    page = max(1, min(page, 100_000))
    # Plain columns on the session's connection: the ORM's execution layer adds ~50 us a statement, nothing here.
    rows = db.session.connection().execute(_LISTS["current" if tab == "current" else "past"], {
        "partner_id": partner_id, "limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE})
    rows = [CareRequestRow(r[0], r[1], r[2], f"{r[3]} {r[4]}", r[5], r[6], r[7]) for r in rows]
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


# Check the owner and consume the token in one step, inside Redis: a partner user of another tenant
# (or another user) who opens the link leaves it for its rightful user; the rightful user uses it once.
_REDEEM_IF_OWNER = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {0} end
local prefill = cjson.decode(raw)
if tostring(prefill['partner_id']) ~= ARGV[1] or tostring(prefill['user_id']) ~= ARGV[2] then return {1} end
redis.call('DEL', KEYS[1])
return {2, raw}
"""


def redeem_handoff(token: str, *, partner_id: int, user_id: int) -> dict | None:
    """The prefill, once, to the user it was issued to. None for an unknown, expired, used or someone
    else's token; someone else's attempt does not consume it."""
    if not token or len(token) > 100:
        return None
    answer = redis_client().eval(_REDEEM_IF_OWNER, 1, f"handoff:{token}", str(partner_id), str(user_id))
    if answer[0] == 0:
        log.info("handoff refused token=%s (unknown, expired or used)", token_hash(token))
        return None
    if answer[0] == 1:
        log.warning("handoff refused token=%s (issued to another user)", token_hash(token))
        return None
    log.info("handoff redeemed token=%s partner=%s user=%s", token_hash(token), partner_id, user_id)
    return json.loads(answer[1])


# --- eligibility and self-scheduling -------------------------------------------------------------

def age_on(birth_date: date | None, today: date) -> int | None:
    if birth_date is None:
        return None
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def triage_reason(partner: Partner, patient: Patient, reason: str, today: date) -> str | None:
    """Why this visit must go to triage under the partner's rules, or None when it may be self-scheduled."""
    if not partner.self_scheduling:
        return SELF_SCHEDULING_OFF
    rules = partner.eligibility_rules or {}
    text = (reason or "").lower()
    for symptom in rules.get("triage_symptoms") or []:
        if isinstance(symptom, str) and symptom and symptom.lower() in text:
            return SYMPTOM_NEEDS_TRIAGE
    age = age_on(patient.birth_date, today)
    oldest, youngest = rules.get("triage_min_age"), rules.get("triage_max_age")
    if age is not None:
        # Rules are data an operator typed: a value that is not a number is ignored, never a 500.
        if isinstance(oldest, int) and age >= oldest:
            return AGE_NEEDS_TRIAGE
        if isinstance(youngest, int) and age <= youngest:
            return AGE_NEEDS_TRIAGE
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
    status_changed(user.partner_id)
    return care_request


def self_schedule(user: PartnerUser, patient_id: int, *, slot_id: int, reason: str, answers: dict,
                  callback_phone: str | None) -> CareRequest:
    """Book the slot through the booking service and record the care request as scheduled.

    The care request joins the booking's transaction, so it exists only when the booking succeeded;
    SlotTaken / SlotNotFound / SlotInPast from the booking service leave nothing behind.
    """
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
    return link_appointment(care_request_id, appointment.id)


def link_appointment(care_request_id: int, appointment_id: int) -> CareRequest:
    db.session.execute(update(CareRequest).where(CareRequest.id == care_request_id)
                       .values(appointment_id=appointment_id))
    db.session.commit()
    care_request = db.session.get(CareRequest, care_request_id)
    status_changed(care_request.partner_id)
    return care_request


def free_slots(service_id: int, available_from: date) -> list:
    """Free slots of the service over two weeks from the day the patient is available, never sooner
    than five minutes from now: what self-scheduling offers and what triage books from."""
    start = max(datetime.combine(available_from, time.min), datetime.utcnow() + timedelta(minutes=5))
    return scheduling.search_slots(service_id, start_from=start, start_to=start + timedelta(days=SLOT_SEARCH_DAYS),
                                   limit=SLOTS_SHOWN)
