"""Check-in rules: links, the identity check, today's appointments, the window, the questions,
and the check-in itself (which stores the travel claim). No Flask request objects here.

One question per page: the answers so far are the caller's (the view keeps them in the signed
session) and `next_question` says what to ask next. Nothing is stored until the patient presses
"Check in"; then the check-in, its demographics flags and the travel claim commit together.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.checkin.models import DAY_BEFORE, SAME_DAY, CheckIn, CheckinLink
from portal.extensions import db
from portal.i18n.formatting import clock, day
from portal.i18n.languages import speaking
from portal.notifications import services as outbox
from portal.patients.models import Patient
from portal.scheduling.models import BOOKED, Appointment, Schedule, Slot
from portal.scheduling.services import clinic_zone
from portal.security import audit, patient_check
from portal.security.models import utcnow
from portal.security.patient_check import IdentityLocked
from portal.travel_pay import services as travel_claims
from portal.travel_pay.agreement import current_agreement

log = logging.getLogger(__name__)

__all__ = ["IdentityLocked"]

# Outcomes of the travel part of a check-in, which the confirmation page explains.
QUEUED, NOT_QUEUED, NOT_ELIGIBLE, ALREADY_FILED, NOT_OFFERED, FILE_LATER = (
    "queued", "not_queued", "not_eligible", "already_filed", "not_offered", "file_later")
FILE = "file"  # the patient's travel choice when a claim is to be filed (stored as the claim's outcome)


@dataclass(frozen=True)
class Question:
    name: str
    text: str  # or a lazy gettext string
    travel: bool


DEMOGRAPHICS = [
    Question("contact", _l("Is your contact information correct?"), False),
    Question("emergency_contact", _l("Is your emergency contact correct?"), False),
    Question("next_of_kin", _l("Is your next of kin correct?"), False),
]
# Travel pay as the VA's own day-of check-in asks it: first whether to file now at all ("file later" is an
# equal choice), then three questions, then a review with the beneficiary travel agreement.
ASK = Question("file_now", _l("Would you like to file a travel reimbursement claim?"), True)
TRAVEL = [
    Question("mileage_only", _l("Are you claiming only mileage and no other expenses?"), True),
    Question("own_vehicle", _l("Did you travel in your own vehicle?"), True),
    Question("home_address", _l("Did you travel from your home address?"), True),
]
REVIEW = Question("agreement", _l("Review your travel claim"), True)
# With the review's answer (the accepted agreement's version) the session keeps the language code of the
# wording the patient was shown: the claim stores that wording.
AGREEMENT_LANGUAGE = "agreement_language"
# The yes/no questions that have a page of their own (the ask and the review have theirs).
QUESTIONS = {q.name: q for q in DEMOGRAPHICS + TRAVEL}


class NotCheckable(Exception):
    """This appointment cannot be checked in now; the message says when or why."""


# --- links ---------------------------------------------------------------------------------------

def hash_link_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def checkin_url(raw: str) -> str:
    return f"{current_app.config['PORTAL_URL']}/checkin/{raw}"


def create_link(patient_id: int, appointment_date: date, kind: str) -> str | None:
    """A new link (32 random bytes, only the hash stored) in the caller's transaction; None when this
    patient already has one of this kind for that day."""
    raw = secrets.token_urlsafe(32)
    link = CheckinLink(token_hash=hash_link_token(raw), patient_id=patient_id, appointment_date=appointment_date,
                       kind=kind, expires_at=utcnow() + timedelta(hours=current_app.config["CHECKIN_LINK_HOURS"]))
    try:
        with db.session.begin_nested():
            db.session.add(link)
    except IntegrityError:
        return None
    return raw


def find_link(raw_token: str) -> CheckinLink | None:
    """The unexpired link for this token, or None (unknown, malformed or expired alike)."""
    if not raw_token or len(raw_token) > 100:
        return None
    link = db.session.scalar(select(CheckinLink).where(CheckinLink.token_hash == hash_link_token(raw_token)))
    if link is None or link.expires_at <= utcnow():
        return None
    return link


def _lock_key(link: CheckinLink) -> str:
    # Per patient, not per link: the day-before and on-the-day links share one count.
    return f"checkin-check:{link.patient_id}"


def identity_locked(link: CheckinLink) -> bool:
    return patient_check.identity_locked(_lock_key(link))


def check_identity(link: CheckinLink, *, last_name: str, birth_date: date | None) -> bool:
    """Last name and date of birth of the linked patient; five failures lock (IdentityLocked)."""
    if identity_locked(link):
        raise IdentityLocked()
    patient = db.session.get(Patient, link.patient_id)
    if patient_check.identity_matches(patient, last_name=last_name, birth_date=birth_date):
        audit.record("checkin.identity_checked", subject=link, patient_id=link.patient_id,
                     actor=("patient", str(link.patient_id)))
        db.session.commit()
        return True
    audit.record("checkin.identity_failed", subject=link, patient_id=link.patient_id, actor=("patient", None))
    db.session.commit()
    patient_check.count_failure(_lock_key(link))
    return False


# --- appointments and the window -----------------------------------------------------------------

def _zone(appointment: Appointment) -> ZoneInfo:
    return clinic_zone(appointment.slot.schedule)


def clinic_zone_of(appointment: Appointment) -> ZoneInfo:
    """The zone the appointment's times are shown in: its clinic's."""
    return _zone(appointment)


def local_time(appointment: Appointment, moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc).astimezone(_zone(appointment))


def local_date(appointment: Appointment) -> date:
    return local_time(appointment, appointment.start).date()


def _with_clinic():
    return joinedload(Appointment.slot).joinedload(Slot.schedule).joinedload(Schedule.location)


def todays_appointments(patient_id: int, now: datetime | None = None) -> list[Appointment]:
    """The patient's booked appointments on today's date, in each clinic's own time zone."""
    now = now or utcnow()
    candidates = db.session.scalars(
        select(Appointment).options(_with_clinic())
        .where(Appointment.patient_id == patient_id, Appointment.status == BOOKED,
               Appointment.start >= now - timedelta(hours=26), Appointment.start <= now + timedelta(hours=26))
        .order_by(Appointment.start)).all()
    return [a for a in candidates if local_date(a) == local_time(a, now).date()]


def patient_appointment(patient_id: int, appointment_id: int) -> Appointment | None:
    appointment = db.session.get(Appointment, appointment_id, options=[_with_clinic()])
    if appointment is None or appointment.patient_id != patient_id or appointment.status != BOOKED:
        return None
    return appointment


def window(appointment: Appointment) -> tuple[datetime, datetime]:
    cfg = current_app.config
    return (appointment.start - timedelta(minutes=cfg["CHECKIN_OPENS_MINUTES_BEFORE"]),
            appointment.start + timedelta(minutes=cfg["CHECKIN_CLOSES_MINUTES_AFTER"]))


def window_message(appointment: Appointment, now: datetime | None = None) -> str | None:
    """None while check-in is open; otherwise when to come back (or that it has closed)."""
    now = now or utcnow()
    opens, closes = window(appointment)
    zone = _zone(appointment)
    if now < opens:
        if local_time(appointment, opens).date() == local_time(appointment, now).date():
            return _("Check-in for this appointment opens at %(time)s. Come back then.", time=clock(opens, zone))
        return _("Check-in for this appointment opens at %(time)s on %(day)s. Come back then.",
                 time=clock(opens, zone), day=day(opens, zone, form="weekday"))
    if now > closes:
        return _("Check-in for this appointment closed at %(time)s. Please go to the front desk.",
                 time=clock(closes, zone))
    return None


def clinic_of(appointment: Appointment):
    return appointment.slot.schedule.location


def travel_pay_offered(appointment: Appointment) -> bool:
    """Travel questions only when the experience (a setting) AND the clinic (its location) allow it."""
    location = clinic_of(appointment)
    return bool(current_app.config["TRAVEL_PAY_ENABLED"] and location is not None and location.travel_pay_enabled)


# --- questions -----------------------------------------------------------------------------------

def next_question(answers: dict, travel_offered: bool) -> Question | None:
    """The next step to show: a question, the travel ask (ASK) or the travel review (REVIEW). None: all done.

    Travel stops at "file later" and at the first "no". The review counts as answered only when the
    patient chose "file later" there or accepted the agreement's current version.
    """
    for question in DEMOGRAPHICS:
        if question.name not in answers:
            return question
    if not travel_offered:
        return None
    if answers.get(ASK.name) is None:
        return ASK
    if answers[ASK.name] is False:
        return None
    for question in TRAVEL:
        if question.name not in answers:
            return question
        if answers[question.name] is False:
            return None
    if answers.get(REVIEW.name) not in (False, current_agreement().version):
        return REVIEW
    return None


def travel_eligible(answers: dict) -> bool:
    return all(answers.get(q.name) is True for q in TRAVEL)


def travel_choice(answers: dict) -> str:
    """What the patient chose for travel pay: FILE (agreed), FILE_LATER, or NOT_ELIGIBLE (a "no")."""
    if answers.get(ASK.name) is False or answers.get(REVIEW.name) is False:
        return FILE_LATER
    if not travel_eligible(answers):
        return NOT_ELIGIBLE
    return FILE if answers.get(REVIEW.name) == current_agreement().version else FILE_LATER


def first_travel_no(answers: dict) -> Question | None:
    """The travel question answered "no" (its reason is what the patient is told), if any."""
    return next((q for q in TRAVEL if answers.get(q.name) is False), None)


def file_by(appointment: Appointment) -> date:
    """The last day a travel claim for this appointment can be filed (the claims system's deadline)."""
    return local_date(appointment) + timedelta(days=current_app.config["TRAVEL_CLAIM_FILE_WITHIN_DAYS"])


def read_patient_for_checkin(patient_id: int, what: str) -> Patient:
    """The patient's record for a question page; the read is audited."""
    patient = db.session.get(Patient, patient_id)
    audit.record_read("checkin.details_viewed", subject=patient, patient_id=patient_id,
                      actor=("patient", str(patient_id)), shown=what)
    return patient


# --- the check-in --------------------------------------------------------------------------------

def existing_check_in(appointment_id: int) -> CheckIn | None:
    return db.session.scalar(select(CheckIn).where(CheckIn.appointment_id == appointment_id))


def check_in(appointment: Appointment, answers: dict, now: datetime | None = None) -> CheckIn:
    """Check the patient in; with all travel answers "yes" and the agreement accepted, store a travel claim
    (with the agreement's version, language and wording) and queue it.

    Raises NotCheckable outside the window or with questions unanswered. A second check-in of the
    same appointment returns the first.
    """
    message = window_message(appointment, now)
    if message:
        raise NotCheckable(message)
    offered = travel_pay_offered(appointment)
    if next_question(answers, offered) is not None:
        raise NotCheckable(_("Answer every question first."))
    existing = existing_check_in(appointment.id)
    if existing is not None:
        return existing
    travel = {q.name: answers[q.name] for q in TRAVEL if q.name in answers} if offered else {}
    choice = travel_choice(answers) if offered else NOT_OFFERED
    record = CheckIn(appointment_id=appointment.id, patient_id=appointment.patient_id,
                     contact_ok=answers["contact"], emergency_contact_ok=answers["emergency_contact"],
                     next_of_kin_ok=answers["next_of_kin"], travel_answers=travel,
                     needs_front_desk=not (answers["contact"] and answers["emergency_contact"]
                                           and answers["next_of_kin"]),
                     travel_outcome=choice if choice != FILE else NOT_QUEUED)
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        db.session.rollback()  # a double tap checked in a moment ago: show that one
        return existing_check_in(appointment.id)
    claim = None
    if choice == FILE:
        # Only here, with the agreement's current version accepted on the review page, is a claim stored.
        try:
            claim = travel_claims.create_claim(
                patient_id=appointment.patient_id, appointment=appointment, appointment_date=local_date(appointment),
                answers=travel, agreement=current_agreement(answers.get(AGREEMENT_LANGUAGE)))
        except travel_claims.AlreadyClaimedThatDay:
            record.travel_outcome = ALREADY_FILED
    audit.record("checkin.checked_in", subject=record, patient_id=appointment.patient_id,
                 actor=("patient", str(appointment.patient_id)), appointment_id=appointment.id,
                 front_desk=record.needs_front_desk, travel=record.travel_outcome)
    db.session.commit()
    if claim is not None and travel_claims.enqueue_claim(claim.id, 1, claim.next_attempt_at):
        record.travel_outcome = QUEUED
        db.session.commit()
    return record


# --- links by SMS and e-mail ---------------------------------------------------------------------

def send_checkin_links(now: datetime | None = None) -> int:
    """Text (or e-mail) check-in links for appointments tomorrow (the day before) and today (on the day).

    Safe to run as often as you like: one link per patient, day and kind. Nothing goes out before
    CHECKIN_LINKS_FROM_HOUR in the clinic's time zone.
    """
    now = now or utcnow()
    cfg = current_app.config
    upcoming = db.session.scalars(
        select(Appointment).options(_with_clinic(), joinedload(Appointment.patient))
        .where(Appointment.status == BOOKED, Appointment.start >= now - timedelta(minutes=15),
               Appointment.start <= now + timedelta(hours=50)).order_by(Appointment.start)).all()
    queued = []
    for appointment in upcoming:
        local_now = local_time(appointment, now)
        if local_now.hour < cfg["CHECKIN_LINKS_FROM_HOUR"]:
            continue
        day = local_date(appointment)
        kind = SAME_DAY if day == local_now.date() else DAY_BEFORE if day == local_now.date() + timedelta(1) else None
        if kind is None:
            continue
        raw = create_link(appointment.patient_id, day, kind)
        if raw is None:
            continue
        queued += _send_link(appointment, raw, kind)
    db.session.commit()
    outbox.dispatch(queued)
    return len(queued)


def _send_link(appointment: Appointment, raw: str, kind: str) -> list:
    patient = appointment.patient
    with speaking(patient.language):
        words = {"time": clock(appointment.start, _zone(appointment), show_zone=False), "link": checkin_url(raw),
                 "minutes": current_app.config["CHECKIN_OPENS_MINUTES_BEFORE"]}
        text = _("You have an appointment today at %(time)s. Check in on your phone from %(minutes)d minutes "
                 "before: %(link)s", **words) if kind == SAME_DAY else \
            _("You have an appointment tomorrow at %(time)s. Check in on your phone from %(minutes)d minutes "
              "before: %(link)s", **words)
        subject = _("Check in for your appointment")
    queued = []
    if patient.phone:
        queued.append(outbox.queue_sms(to=patient.phone, text=text, kind=f"checkin.{kind}", patient_id=patient.id))
    if patient.email:
        queued.append(outbox.queue_email(to=patient.email, subject=subject, text=text,
                                         kind=f"checkin.{kind}", patient_id=patient.id))
    return queued


def front_desk_list(limit: int = 100) -> list[CheckIn]:
    """Check-ins where the patient said some details are wrong, newest first, not yet dealt with."""
    return list(db.session.scalars(
        select(CheckIn).options(joinedload(CheckIn.patient))
        .where(CheckIn.needs_front_desk.is_(True), CheckIn.front_desk_done_at.is_(None))
        .order_by(CheckIn.id.desc()).limit(limit)))


def front_desk_done(check_in_id: int, *, actor: tuple[str, str]) -> bool:
    """The front desk updated the patient's details: the check-in leaves the list, once.
    False when someone marked it already."""
    changed = db.session.execute(update(CheckIn).where(CheckIn.id == check_in_id, CheckIn.front_desk_done_at.is_(None))
                                 .values(front_desk_done_at=utcnow())).rowcount
    if changed:
        record = db.session.get(CheckIn, check_in_id)
        audit.record("checkin.details_updated", subject=record, patient_id=record.patient_id, actor=actor)
    db.session.commit()
    return bool(changed)
