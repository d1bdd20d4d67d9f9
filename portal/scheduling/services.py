"""Scheduling rules: the booking service, blocking, slot generation and search. No Flask request here.

Booking takes a slot with one conditional UPDATE (`status = 'free'` → `'busy'`): of many
processes racing for a slot exactly one sees a row count of 1. Behind it, an appointment's
`active_slot_id` is unique, so the database itself refuses a second live appointment on a slot.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal.extensions import db
from portal.patients.services import add_patient, find_patient_by_national_id
from portal.scheduling.models import (
    BLOCKED,
    BOOKED,
    BUSY,
    CANCELLED,
    DEFAULT_TIME_ZONE,
    FREE,
    Appointment,
    AppointmentVersion,
    HealthcareService,
    Location,
    Practitioner,
    Schedule,
    Slot,
    WeeklyTemplate,
)
from portal.security import audit
from portal.security.models import utcnow

MAX_GENERATION_DAYS = 366


class SchedulingError(Exception):
    """Base of the errors callers show to people or clients."""


class SlotNotFound(SchedulingError, LookupError):
    pass


class SlotTaken(SchedulingError):
    """Someone else holds the slot (booked or blocked)."""


class SlotMismatch(SchedulingError, ValueError):
    """The caller's start/end are not within the slot."""


class SlotInPast(SchedulingError):
    """A slot that has started can no longer be booked."""


class AppointmentNotFound(SchedulingError, LookupError):
    pass


class AlreadyCancelled(SchedulingError):
    pass


class VersionConflict(SchedulingError):
    """The appointment changed since the version the caller read."""


class SlotNotChangeable(SchedulingError):
    """Only a free slot can be blocked and only a blocked one unblocked."""


class UnknownPatient(SchedulingError, LookupError):
    """No patient has this national id, and no details were given to add one."""


class InvalidSchedule(SchedulingError, ValueError):
    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.field = field  # the form field it is about, where one is


def _actor_label(actor: tuple[str, str | None]) -> str:
    return f"{actor[0]}:{actor[1] or ''}"


# --- booking -------------------------------------------------------------------------------------

def book_slot(slot_id: int, *, patient_id: int, actor: tuple[str, str | None], start: datetime | None = None,
              end: datetime | None = None, description: str | None = None, comment: str | None = None,
              booked_details: str | None = None,
              in_same_transaction: Callable[[Appointment], None] | None = None) -> Appointment:
    """Book a free slot for a patient, or raise SlotTaken / SlotNotFound / SlotMismatch / SlotInPast.

    The appointment is the whole slot unless the caller gives a start and end within it (a booking
    system may book 10 minutes of a 30-minute slot). Commits the caller's transaction with the
    appointment (so a patient created for this booking in the same transaction is kept only when the
    booking succeeds). `in_same_transaction` is called with the new appointment before that commit,
    for what the caller records about it (a follow-up's record and the patient's message): all of it
    commits with the booking or none.
    """
    slot = db.session.get(Slot, slot_id)
    if slot is None:
        db.session.rollback()
        raise SlotNotFound(slot_id)
    start = slot.start if start is None else start
    end = slot.end if end is None else end
    if not slot.start <= start < end <= slot.end:
        db.session.rollback()
        raise SlotMismatch("start and end must be within the slot")
    if slot.start <= utcnow():
        db.session.rollback()
        raise SlotInPast(slot_id)
    if not _move_slot(slot_id, FREE, BUSY):
        db.session.rollback()
        raise SlotTaken(slot_id)
    appointment = Appointment(
        slot_id=slot_id, active_slot_id=slot_id, patient_id=patient_id, status=BOOKED, start=start, end=end,
        description=description, comment=comment, booked_by=_actor_label(actor), booked_details=booked_details,
        version=1, created_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(appointment)
    except IntegrityError:
        db.session.rollback()
        raise SlotTaken(slot_id) from None
    db.session.add(AppointmentVersion(appointment_id=appointment.id, version=1, status=BOOKED,
                                      recorded_at=appointment.created_at))
    audit.record("appointment.booked", subject=appointment, patient_id=patient_id, actor=actor, slot_id=slot_id)
    if in_same_transaction is not None:
        in_same_transaction(appointment)
    db.session.commit()
    return appointment


def book_for_patient(slot_id: int, *, national_id: str, new_patient: dict | None, actor: tuple[str, str | None],
                     description: str | None = None) -> Appointment:
    """A secretary's booking: the patient with this national id, or one added from `new_patient`
    (first_name, last_name, birth_date, phone) when none is known here.

    The new patient is created in the booking's transaction: `book_slot` commits both, or neither
    when the slot is gone. Raises UnknownPatient, patients' InvalidPatient and the booking errors.
    """
    patient = find_patient_by_national_id(national_id)
    if patient is None:
        if new_patient is None:
            raise UnknownPatient(national_id)
        patient = add_patient(national_id=national_id, **new_patient)
        db.session.flush()
        audit.record("patient.created", subject=patient, patient_id=patient.id, actor=actor, via="staff_booking")
    return book_slot(slot_id, patient_id=patient.id, actor=actor, description=description)


def get_appointment(appointment_id: int) -> Appointment | None:
    return db.session.get(Appointment, appointment_id)


def appointment_version(appointment_id: int, version: int) -> AppointmentVersion | None:
    """The status an appointment had at a version, and when it took it; None for a version it never had."""
    return db.session.scalar(select(AppointmentVersion).where(AppointmentVersion.appointment_id == appointment_id,
                                                              AppointmentVersion.version == version))


def find_slot_by_uuid(slot_uuid) -> Slot | None:
    return db.session.scalar(select(Slot).where(Slot.uuid == slot_uuid))


def cancel_appointment(appointment_id: int, *, actor: tuple[str, str | None],
                       expected_version: int | None = None) -> Appointment:
    """Cancel a booked appointment and free its slot, once; raise AlreadyCancelled after that.

    With `expected_version` (an API client's If-Match) the cancellation happens only if the appointment
    is still at that version, else VersionConflict: the database decides, in the same conditional UPDATE.
    """
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        db.session.rollback()
        raise AppointmentNotFound(appointment_id)
    conditions = [Appointment.id == appointment_id, Appointment.status == BOOKED]
    if expected_version is not None:
        conditions.append(Appointment.version == expected_version)
    now = utcnow()
    cancelled = db.session.execute(
        update(Appointment).where(*conditions)
        .values(status=CANCELLED, active_slot_id=None, cancelled_at=now, version=Appointment.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if cancelled != 1:
        db.session.rollback()
        db.session.refresh(appointment)
        if expected_version is not None and appointment.version != expected_version:
            raise VersionConflict(appointment_id)
        raise AlreadyCancelled(appointment_id)
    db.session.refresh(appointment)
    db.session.add(AppointmentVersion(appointment_id=appointment_id, version=appointment.version, status=CANCELLED,
                                      recorded_at=now))
    _move_slot(appointment.slot_id, BUSY, FREE)
    audit.record("appointment.cancelled", subject=appointment, patient_id=appointment.patient_id, actor=actor)
    db.session.commit()
    db.session.refresh(appointment)
    return appointment


def _move_slot(slot_id: int, from_status: str, to_status: str) -> bool:
    """Move a slot between states only if it is still in `from_status`: the one race-safe step."""
    return db.session.execute(
        update(Slot).where(Slot.id == slot_id, Slot.status == from_status)
        .values(status=to_status, version=Slot.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def _change_slot(slot_id: int, from_status: str, to_status: str, action: str, actor) -> Slot:
    slot = db.session.get(Slot, slot_id)
    if slot is None:
        db.session.rollback()
        raise SlotNotFound(slot_id)
    if not _move_slot(slot_id, from_status, to_status):
        db.session.rollback()
        raise SlotNotChangeable(slot_id)
    audit.record(action, subject=slot, actor=actor)
    db.session.commit()
    db.session.refresh(slot)
    return slot


def block_slot(slot_id: int, *, actor=None) -> Slot:
    """Take a free slot out of booking (a secretary's block)."""
    return _change_slot(slot_id, FREE, BLOCKED, "slot.blocked", actor)


def unblock_slot(slot_id: int, *, actor=None) -> Slot:
    return _change_slot(slot_id, BLOCKED, FREE, "slot.unblocked", actor)


# --- search --------------------------------------------------------------------------------------

def _dashed(value: str | None) -> str | None:
    if value is None or len(value) != 32:
        return value
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


class _UuidText(String):
    def result_processor(self, dialect, coltype):
        return _dashed


class uuid_text(FunctionElement):
    """A UUID column read as its text (8-4-4-4-12), not as a uuid.UUID (building one and its str() per row was
    ~0.3 ms of a week's search). PostgreSQL casts it to that text; SQLite keeps 32 hex digits, and gets the
    dashes in Python (SQLite's substr() for them cost more than the rest of the row)."""

    type = _UuidText()
    name = "uuid_text"
    inherit_cache = True


@compiles(uuid_text)
def _uuid_text(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"


@compiles(uuid_text, "sqlite")
def _uuid_text_sqlite(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@lru_cache(maxsize=64)
def _slot_search_statement(by_service: bool, statuses: int, after_now: bool, bounded: bool, gaps: int):
    """The statement of one shape of search, built once: a search binds its values to it. (Building it for
    each search was ~0.3 ms of SQLAlchemy's Python; a Core statement of table columns skips the ORM's layers.)"""
    slots = Slot.__table__.c
    query = select(slots.id, uuid_text(slots.uuid).label("uuid"), slots.schedule_id, slots.start, slots.end,
                   slots.status, slots.version)
    if by_service:
        query = query.where(slots.healthcare_service_id == bindparam("service_id"))
    if statuses == 1:
        query = query.where(slots.status == bindparam("status"))
    elif statuses:
        query = query.where(slots.status.in_(bindparam("statuses", expanding=True)))
    query = query.where(slots.start > bindparam("start_from") if after_now else slots.start >= bindparam("start_from"))
    if bounded:
        query = query.where(slots.start <= bindparam("start_to"))
    for n in range(gaps):
        query = query.where(~slots.start.between(bindparam(f"gap_from_{n}"), bindparam(f"gap_to_{n}")))
    return query.order_by(slots.start, slots.id).limit(bindparam("limit"))


def search_slots(healthcare_service_id: int | None, *, start_from: datetime | None = None,
                 start_to: datetime | None = None, status: str | tuple[str, ...] | None = FREE,
                 start_not_within: tuple[tuple[datetime, datetime], ...] = (), limit: int = 5000) -> list:
    """Slots of one service (or of all, with None) in a window that start in the future, in start order, served by
    ix_slots_service_status_start (ix_slots_start without a service). `status` is one status, several
    (any of them), or None for all; `start_not_within` leaves out slots starting in those ranges.

    Read-only rows (id, uuid as text, schedule_id, start, end, status, version), not ORM objects: a week of a
    busy service is hundreds of slots, and search is the hottest query of the FHIR API.
    """
    statuses = (status,) if isinstance(status, str) else tuple(status or ())
    # Only slots that have not started are offered, whatever window was asked: one that has begun
    # cannot be booked (book_slot refuses it), so listing it as free would only lead to a refusal.
    now = utcnow()
    after_now = start_from is None or start_from <= now
    values = {"service_id": healthcare_service_id, "start_from": now if after_now else start_from,
              "start_to": start_to, "limit": limit}
    if len(statuses) == 1:
        values["status"] = statuses[0]
    else:
        values["statuses"] = list(statuses)
    for n, (low, high) in enumerate(start_not_within):
        values[f"gap_from_{n}"], values[f"gap_to_{n}"] = low, high
    statement = _slot_search_statement(healthcare_service_id is not None, len(statuses), after_now,
                                       start_to is not None, len(start_not_within))
    return db.session.execute(statement, values).all()


# --- set-up and generation ------------------------------------------------------------------------

def create_healthcare_service(*, name: str, organisation_code: str) -> HealthcareService:
    service = HealthcareService(name=name.strip(), organisation_code=organisation_code.strip().upper())
    db.session.add(service)
    db.session.flush()
    return service


def create_location(*, name: str, address: str | None = None, organisation_code: str | None = None,
                    time_zone: str = DEFAULT_TIME_ZONE) -> Location:
    _zone(time_zone)
    location = Location(name=name.strip(), address=address, organisation_code=organisation_code, time_zone=time_zone)
    db.session.add(location)
    db.session.flush()
    return location


def create_practitioner(*, family_name: str, given_name: str, prefix: str | None = None) -> Practitioner:
    practitioner = Practitioner(family_name=family_name.strip(), given_name=given_name.strip(), prefix=prefix)
    db.session.add(practitioner)
    db.session.flush()
    return practitioner


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"unknown time zone {name!r}") from None


def create_schedule(*, name: str, healthcare_service_id: int, location_id: int | None = None,
                    practitioner_id: int | None = None, timezone_name: str = "Europe/London") -> Schedule:
    _zone(timezone_name)
    if db.session.get(HealthcareService, healthcare_service_id) is None:
        raise InvalidSchedule("unknown healthcare service")
    schedule = Schedule(name=name.strip(), healthcare_service_id=healthcare_service_id, location_id=location_id,
                        practitioner_id=practitioner_id, timezone=timezone_name)
    db.session.add(schedule)
    db.session.flush()
    return schedule


def set_up_schedule(*, name: str, service_name: str, organisation_code: str, location_name: str | None = None,
                    practitioner_given: str | None = None, practitioner_family: str | None = None,
                    timezone_name: str = "Europe/London") -> Schedule:
    """A new schedule with its actors; an existing service of the same name and organisation is reused."""
    service = db.session.scalar(select(HealthcareService).where(
        HealthcareService.name == service_name.strip(),
        HealthcareService.organisation_code == organisation_code.strip().upper()))
    if service is None:
        service = create_healthcare_service(name=service_name, organisation_code=organisation_code)
    location = create_location(name=location_name, organisation_code=service.organisation_code,
                               time_zone=timezone_name) if location_name else None
    practitioner = create_practitioner(family_name=practitioner_family, given_name=practitioner_given) \
        if practitioner_given and practitioner_family else None
    schedule = create_schedule(name=name, healthcare_service_id=service.id,
                               location_id=location.id if location else None,
                               practitioner_id=practitioner.id if practitioner else None, timezone_name=timezone_name)
    audit.record("schedule.created", subject=schedule)
    db.session.commit()
    return schedule


def list_schedules() -> list[Schedule]:
    return list(db.session.scalars(select(Schedule).order_by(Schedule.name, Schedule.id)))


def get_schedule(schedule_id: int) -> Schedule | None:
    return db.session.get(Schedule, schedule_id)


def add_weekly_template(schedule_id: int, *, weekday: int, start_time: time, end_time: time,
                        slot_minutes: int) -> WeeklyTemplate:
    if not 0 <= weekday <= 6:
        raise InvalidSchedule(_l("weekday must be 0 (Monday) to 6 (Sunday)"))
    if not 5 <= slot_minutes <= 480:
        raise InvalidSchedule(_l("slots must be 5 to 480 minutes long"))
    if end_time <= start_time:
        raise InvalidSchedule(_l("the end must be after the start"))
    # One schedule is one diary (a practitioner's, a room's): hours that overlap would offer the same time twice.
    same_day = select(WeeklyTemplate).where(
        WeeklyTemplate.schedule_id == schedule_id, WeeklyTemplate.weekday == weekday,
        WeeklyTemplate.start_time < end_time, WeeklyTemplate.end_time > start_time)
    if (taken := db.session.scalars(same_day.order_by(WeeklyTemplate.start_time).limit(1)).first()) is not None:
        raise InvalidSchedule(_l("These hours overlap %(start)s–%(end)s, already set for this weekday.",
                                 start=taken.start_time.strftime("%H:%M"), end=taken.end_time.strftime("%H:%M")),
                              field="start_time")
    template = WeeklyTemplate(schedule_id=schedule_id, weekday=weekday, start_time=start_time, end_time=end_time,
                              slot_minutes=slot_minutes)
    db.session.add(template)
    db.session.commit()
    return template


def remove_weekly_template(template_id: int) -> None:
    template = db.session.get(WeeklyTemplate, template_id)
    if template is not None:
        db.session.delete(template)
        db.session.commit()


def _to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def _exists(moment_utc: datetime, wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the wall-clock time is one the zone's clocks show (not in a skipped hour)."""
    local = moment_utc.replace(tzinfo=timezone.utc).astimezone(zone).replace(tzinfo=None)
    return local == wall


def planned_slots(schedule: Schedule, first_day: date, last_day: date) -> list[tuple[datetime, datetime]]:
    """(start, end) in UTC of every slot the weekly templates give between the two days inclusive."""
    zone = _zone(schedule.timezone)
    by_weekday: dict[int, list[WeeklyTemplate]] = {}
    for template in schedule.templates:
        by_weekday.setdefault(template.weekday, []).append(template)
    planned = []
    day = first_day
    while day <= last_day:
        previous_end = None  # of the day's last slot so far: none begins before it (the day's hours in order)
        for template in sorted(by_weekday.get(day.weekday(), []), key=lambda t: t.start_time):
            length = timedelta(minutes=template.slot_minutes)
            begin = datetime.combine(day, template.start_time)
            close = datetime.combine(day, template.end_time)
            while begin + length <= close:
                start, end = _to_utc(day, begin.time(), zone), _to_utc(day, (begin + length).time(), zone)
                # A daylight-saving change skips or repeats an hour of the wall clock: a slot that starts
                # in the skipped hour does not exist, and one across the change is not its length. One that
                # ends in the skipped hour lasts its length but ends later on the clock than the grid says
                # (00:45-01:30 GMT ends at 02:30 BST), so the grid's next slot that exists (02:15 BST) would
                # begin before it ended: such a slot is left out, not booked twice over. So is one of hours that
                # overlap hours added before add_weekly_template refused them.
                if (end - start == length and _exists(start, begin, zone)
                        and (previous_end is None or start >= previous_end)):
                    planned.append((start, end))
                    previous_end = end
                begin += length
        day += timedelta(days=1)
    return planned


def generate_slots(schedule_id: int, first_day: date, last_day: date) -> int:
    """Create the slots the weekly templates give; existing ones are kept. Returns how many were new.

    Safe to run twice and from two processes at once: the (schedule, start) unique constraint
    with ON CONFLICT DO NOTHING decides.
    """
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise InvalidSchedule("unknown schedule")
    if last_day < first_day:
        raise InvalidSchedule(_l("the last day must not be before the first"))
    if (last_day - first_day).days >= MAX_GENERATION_DAYS:
        raise InvalidSchedule(_l("generate at most %(num)d days at a time", num=MAX_GENERATION_DAYS))
    rows = [{"schedule_id": schedule.id, "healthcare_service_id": schedule.healthcare_service_id, "start": start,
             "end": end, "status": FREE, "version": 1} for start, end in planned_slots(schedule, first_day, last_day)]
    if not rows:
        return 0
    window = and_(Slot.schedule_id == schedule.id, Slot.start >= rows[0]["start"], Slot.start <= rows[-1]["start"])
    before = db.session.scalar(select(func.count()).select_from(Slot).where(window))
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Slot.__table__).on_conflict_do_nothing(index_elements=["schedule_id", "start"])
    for chunk in range(0, len(rows), 5000):
        db.session.execute(statement, rows[chunk:chunk + 5000])
    created = db.session.scalar(select(func.count()).select_from(Slot).where(window)) - before
    audit.record("slots.generated", subject=schedule, first_day=first_day.isoformat(),
                 last_day=last_day.isoformat(), created=created)
    db.session.commit()
    return created


# --- the secretary's diary -------------------------------------------------------------------------

@dataclass
class DiaryEntry:
    slot: Slot
    appointment: Appointment | None
    local_start: datetime
    local_end: datetime

    @property
    def bookable(self) -> bool:
        """Free and not yet begun: the only slots a booking page offers."""
        return self.slot.status == FREE and self.slot.start > utcnow()


@dataclass
class Diary:
    schedule: Schedule
    first_day: date
    days: int
    entries_by_day: dict[date, list[DiaryEntry]]

    @property
    def patient_ids(self) -> list[int]:
        return sorted({e.appointment.patient_id for day in self.entries_by_day.values() for e in day
                       if e.appointment is not None})


def local_today(schedule: Schedule) -> date:
    return datetime.now(_zone(schedule.timezone)).date()


def clinic_zone(schedule: Schedule) -> ZoneInfo:
    """The time zone whose day counts as "today" for what happens on this schedule: its location's
    (the clinic's), else the schedule's own."""
    return _zone(schedule.location.time_zone if schedule.location is not None else schedule.timezone)


def zones_of_schedules(schedule_ids) -> dict[int, ZoneInfo]:
    """The zone each schedule's times are shown in (its clinic's, as clinic_zone), for a list of slots: one query."""
    ids = set(schedule_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(Schedule.id, Location.time_zone, Schedule.timezone)
                              .outerjoin(Location, Location.id == Schedule.location_id).where(Schedule.id.in_(ids)))
    return {schedule_id: _zone(clinic or own) for schedule_id, clinic, own in rows}


# Built once and run on the session's connection: building it, and the ORM's execution layer, were ~150 Python
# calls of every partner list page.
_SERVICE_ZONES = (select(Schedule.healthcare_service_id, Location.time_zone, Schedule.timezone)
                  .outerjoin(Location, Location.id == Schedule.location_id)
                  .where(Schedule.healthcare_service_id.in_(bindparam("ids", expanding=True))).order_by(Schedule.id))


def zones_of_services(service_ids) -> dict[int, ZoneInfo]:
    """The zone each healthcare service's care happens in: the clinic zone of its first diary (as clinic_zone),
    for a list of care requests: one query. A service without a diary is left out (the caller's default)."""
    ids = {i for i in service_ids if i}
    if not ids:
        return {}
    rows = db.session.connection().execute(_SERVICE_ZONES, {"ids": list(ids)})
    zones: dict[int, ZoneInfo] = {}
    for service_id, clinic, own in rows:
        zones.setdefault(service_id, _zone(clinic or own))
    return zones


def diary(schedule: Schedule, first_day: date, days: int) -> Diary:
    """The schedule's slots for `days` days from `first_day` (local days), with live appointments."""
    zone = _zone(schedule.timezone)
    start = _to_utc(first_day, time(0), zone)
    end = _to_utc(first_day + timedelta(days=days), time(0), zone)
    rows = db.session.execute(
        select(Slot, Appointment)
        .outerjoin(Appointment, Appointment.active_slot_id == Slot.id)
        .where(Slot.schedule_id == schedule.id, Slot.start >= start, Slot.start < end)
        .order_by(Slot.start)
    ).all()
    by_day: dict[date, list[DiaryEntry]] = {first_day + timedelta(days=n): [] for n in range(days)}
    for slot, appointment in rows:
        local_start = slot.start.replace(tzinfo=timezone.utc).astimezone(zone)
        local_end = slot.end.replace(tzinfo=timezone.utc).astimezone(zone)
        by_day.setdefault(local_start.date(), []).append(DiaryEntry(slot, appointment, local_start, local_end))
    return Diary(schedule=schedule, first_day=first_day, days=days, entries_by_day=by_day)


def diary_entry(slot_id: int) -> DiaryEntry | None:
    row = db.session.execute(
        select(Slot, Appointment).outerjoin(Appointment, Appointment.active_slot_id == Slot.id)
        .where(Slot.id == slot_id)
    ).first()
    if row is None:
        return None
    slot, appointment = row
    zone = _zone(slot.schedule.timezone)
    return DiaryEntry(slot, appointment, slot.start.replace(tzinfo=timezone.utc).astimezone(zone),
                      slot.end.replace(tzinfo=timezone.utc).astimezone(zone))
