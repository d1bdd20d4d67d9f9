"""Booking a follow-up from a consultation, and what a consultation's pages show of its follow-ups.

No Flask request here. A follow-up consultation is a new consultation for the same patient, insurer
and category, created in the state `scheduled` with its queue time (`created_at`) at the start of its
not-before day: the doctors' queue reads only open states, so it stays out of the queue until
`consultations.services.release_due_consultations` (a job at that time, and a periodic sweep) moves it
in. The deal it is billed under is the first consultation's (orders decide it when it is created).
A follow-up appointment is booked in a diary slot through the booking service, race-safe.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from portal import periodic
from portal.consultations import services as consultations
from portal.consultations.models import CHANNELS, COMPLETED, IN_PROGRESS, STATE_LABELS, Consultation
from portal.extensions import db
from portal.follow_ups.models import APPOINTMENT, CONSULTATION, FollowUp
from portal.i18n import formatting
from portal.i18n.languages import speaking
from portal.notifications import services as outbox
from portal.patients.models import Patient
from portal.scheduling import services as scheduling
from portal.scheduling.models import FREE, Appointment, Location, Schedule, Slot
from portal.security import audit
from portal.security.models import StaffUser, utcnow

# From the consultation's page while it runs ("while finishing") or once it is completed ("after").
FOLLOW_UP_STATES = (IN_PROGRESS, COMPLETED)
RELEASE_JOB = "portal.follow_ups.jobs.release_follow_ups"


class InvalidFollowUp(ValueError):
    """What was asked cannot be booked; `errors` maps field name → message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class NotAllowedNow(Exception):
    """The consultation is not in a state a follow-up is booked from (HTTP 409)."""


def _check_state(origin: Consultation) -> None:
    if origin.state not in FOLLOW_UP_STATES:
        raise NotAllowedNow(_("A follow-up is booked from a consultation in progress or completed; "
                              "this one is %(state)s.", state=STATE_LABELS.get(origin.state, origin.state).lower()))


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIME_ZONE"])


def clinic_today() -> date:
    return datetime.now(clinic_zone()).date()


def queue_time(not_before: date) -> datetime:
    """When a follow-up with this not-before day enters the queue (UTC): the start of the day in the
    clinic's time zone, or now when that day has begun."""
    start = datetime.combine(not_before, time(0), tzinfo=clinic_zone()).astimezone(timezone.utc).replace(tzinfo=None)
    return max(start, utcnow())


def check_consultation_follow_up(*, channels: list[str], primary_channel: str, not_before: date | None) -> dict:
    errors = {}
    chosen = [c for c in CHANNELS if c in set(channels or [])]
    if not chosen:
        errors["channels"] = _("Choose at least one channel.")
    elif primary_channel not in chosen:
        errors["primary_channel"] = _("The main channel must be one of the chosen channels.")
    today = clinic_today()
    latest = today + timedelta(days=current_app.config["FOLLOW_UP_MAX_DAYS"])
    if not_before is None:
        errors["not_before"] = _("Enter the first day the follow-up may take place.")
    elif not_before < today:
        errors["not_before"] = _("The day has passed: choose today or a later day.")
    elif not_before > latest:
        errors["not_before"] = _("Choose a day before %(day)s.", day=latest.isoformat())
    return errors


def book_follow_up_consultation(origin: Consultation, *, doctor_id: int, channels: list[str], primary_channel: str,
                                with_me: bool, not_before: date | None) -> FollowUp:
    """A new consultation for the patient of `origin`, entering the queue on `not_before` (for the booking
    doctor alone with `with_me`, else for any doctor). The patient is told with a link; committed."""
    _check_state(origin)
    errors = check_consultation_follow_up(channels=channels, primary_channel=primary_channel, not_before=not_before)
    if errors:
        raise InvalidFollowUp(errors)
    enters = queue_time(not_before)
    made = consultations.create_consultation(
        patient_id=origin.patient_id, source="follow_up", enabled_channels=channels, primary_channel=primary_channel,
        category=origin.category, options={}, created_by_id=doctor_id, insurer_id=origin.insurer_id,
        queue_from=enters, doctor_id=doctor_id if with_me else None, follow_up_of_id=origin.id)
    db.session.flush()
    follow_up = FollowUp(consultation_id=origin.id, patient_id=origin.patient_id, kind=CONSULTATION,
                         follow_up_consultation_id=made.id, not_before=not_before, with_booking_doctor=with_me,
                         booked_by_id=doctor_id)
    db.session.add(follow_up)
    # The link must still work on the day the follow-up opens, however far ahead that is.
    raw = consultations.create_patient_link(
        made, valid_until=enters + timedelta(hours=current_app.config["PATIENT_LINK_HOURS"]))
    with speaking(origin.patient.language):  # the patient's language, not the doctor's page's
        text = _("A follow-up consultation (%(code)s) is booked for you from %(day)s. We will send you a message "
                 "when the doctor is ready; you can see it here: %(link)s",
                 code=made.code, day=formatting.day(not_before), link=consultations.patient_link_url(raw))
        subject = _("Your follow-up consultation")
    queued = _tell(origin.patient, text, subject, "follow_up.consultation", consultation_id=made.id)
    audit.record("follow_up.booked", subject=follow_up, patient_id=origin.patient_id, actor=("staff", str(doctor_id)),
                 kind=CONSULTATION, consultation_id=origin.id, follow_up_consultation_id=made.id,
                 not_before=not_before.isoformat(), with_booking_doctor=with_me)
    db.session.commit()
    outbox.dispatch(queued)
    if enters <= utcnow():
        consultations.release_due_consultations()  # its day has begun: into the queue now
    else:
        # Into the queue at its time; the periodic sweep catches it if Redis loses this job.
        periodic.schedule_once(f"follow-up-release-{made.id}", enters, RELEASE_JOB)
    return follow_up


def _tell(patient: Patient, text: str, subject: str, kind: str, consultation_id: int | None = None) -> list:
    """By text message when the patient has a phone, else by e-mail; in the caller's transaction."""
    if patient.phone:
        return [outbox.queue_sms(to=patient.phone, text=text, kind=kind, patient_id=patient.id,
                                 consultation_id=consultation_id)]
    if patient.email:
        return [outbox.queue_email(to=patient.email, subject=subject, text=text, kind=kind, patient_id=patient.id,
                                   consultation_id=consultation_id)]
    return []


# -- appointments ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FreeSlot:
    id: int
    local_start: datetime
    local_end: datetime


def diaries() -> list[Schedule]:
    return [schedule for schedule in scheduling.list_schedules() if schedule.active]


def free_slots(schedule: Schedule, day: date) -> list[FreeSlot]:
    """The schedule's slots still free on `day` (its local day) that have not started."""
    now = utcnow()
    entries = scheduling.diary(schedule, day, 1).entries_by_day.get(day, [])
    return [FreeSlot(e.slot.id, e.local_start, e.local_end) for e in entries
            if e.slot.status == FREE and e.appointment is None and e.slot.start > now]


def book_follow_up_appointment(origin: Consultation, *, doctor_id: int, slot_id: int) -> FollowUp:
    """Book the patient of `origin` into a diary slot through the booking service. The follow-up record
    and the patient's message commit with the booking or not at all; raises the booking service's
    SlotTaken / SlotNotFound / SlotInPast when someone else was first or the slot went."""
    _check_state(origin)
    patient = origin.patient
    made = {}

    def record(appointment: Appointment) -> None:
        follow_up = FollowUp(consultation_id=origin.id, patient_id=patient.id, kind=APPOINTMENT,
                             appointment_id=appointment.id, booked_by_id=doctor_id)
        db.session.add(follow_up)
        db.session.flush()
        slot = db.session.get(Slot, appointment.slot_id)
        schedule = db.session.get(Schedule, slot.schedule_id)
        location = db.session.get(Location, schedule.location_id) if schedule.location_id else None
        with speaking(patient.language):
            text = _("Your follow-up appointment is booked: %(when)s (%(zone)s) at %(place)s. We will send you a "
                     "check-in link the day before.", zone=schedule.timezone,
                     when=formatting.when(appointment.start, schedule.timezone, show_zone=False),
                     place=location.name if location else schedule.name)
            subject = _("Your follow-up appointment")
        made["queued"] = _tell(patient, text, subject, "follow_up.appointment")
        audit.record("follow_up.booked", subject=follow_up, patient_id=patient.id, actor=("staff", str(doctor_id)),
                     kind=APPOINTMENT, consultation_id=origin.id, appointment_id=appointment.id)
        made["follow_up"] = follow_up

    scheduling.book_slot(slot_id, patient_id=patient.id, actor=("staff", str(doctor_id)),
                         description=_("Follow-up of consultation %(code)s", code=origin.code),
                         in_same_transaction=record)
    outbox.dispatch(made["queued"])
    return made["follow_up"]


# -- what pages show ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FollowUpLine:
    """One follow-up as a line on a page: a consultation (code, state, from when) or an appointment."""

    kind: str
    consultation_id: int | None
    code: str | None
    state: str | None
    service_provider_id: int | None
    not_before: date | None
    with_booking_doctor: bool
    appointment_id: int | None
    appointment_start: datetime | None
    schedule_name: str | None
    time_zone: str | None
    booked_by: str | None

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state or "")

    @property
    def local_start(self) -> datetime | None:
        if self.appointment_start is None:
            return None
        return self.appointment_start.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(self.time_zone))


@dataclass(frozen=True)
class ConsultationRef:
    """Enough of a consultation to name it, link it, and ask the policy whether the viewer may open it."""

    id: int
    code: str
    service_provider_id: int | None


@dataclass
class FollowUpFacts:
    """A consultation's place among follow-ups: what it follows up, and what was booked from it."""

    of: ConsultationRef | None = None
    booked: list[FollowUpLine] = field(default_factory=list)


def _around():
    origin, made = aliased(Consultation), aliased(Consultation)
    ids = bindparam("ids", expanding=True)
    of = (select(Consultation.id, origin.id, origin.code, origin.service_provider_id)
          .join(origin, origin.id == Consultation.follow_up_of_id).where(Consultation.id.in_(ids)))
    booked = (select(FollowUp.consultation_id, FollowUp.kind, made.id, made.code, made.state, made.service_provider_id,
                     FollowUp.not_before, FollowUp.with_booking_doctor, Appointment.id, Appointment.start,
                     Schedule.name, Schedule.timezone, StaffUser.name)
              .outerjoin(made, made.id == FollowUp.follow_up_consultation_id)
              .outerjoin(Appointment, Appointment.id == FollowUp.appointment_id)
              .outerjoin(Slot, Slot.id == Appointment.slot_id).outerjoin(Schedule, Schedule.id == Slot.schedule_id)
              .outerjoin(StaffUser, StaffUser.id == FollowUp.booked_by_id)
              .where(FollowUp.consultation_id.in_(ids)).order_by(FollowUp.id))
    return of, booked


# Built once (the patient record asks on every page): what a consultation follows up, what was booked from it.
_FOLLOWS_UP, _BOOKED_FROM = _around()


def follow_ups_around(consultation_ids: list[int]) -> dict[int, FollowUpFacts]:
    """For each of these consultations: the consultation it follows up and the follow-ups booked from it.
    Two queries however many consultations (the patient record asks for a page of them)."""
    if not consultation_ids:
        return {}
    facts = {cid: FollowUpFacts() for cid in consultation_ids}
    for cid, *of in db.session.execute(_FOLLOWS_UP, {"ids": consultation_ids}):
        facts[cid].of = ConsultationRef(*of)
    for origin_id, *line in db.session.execute(_BOOKED_FROM, {"ids": consultation_ids}):
        facts[origin_id].booked.append(FollowUpLine(*line))
    return facts


def release_follow_ups() -> list[int]:
    """Move every follow-up consultation whose time has come into the queue (safe to run any time)."""
    return consultations.release_due_consultations()


def schedule_release_sweep() -> None:
    periodic.schedule_next("follow-up-release-sweep", RELEASE_JOB, current_app.config["FOLLOW_UP_SWEEP_SECONDS"])
