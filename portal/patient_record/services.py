"""The patient record: details, one newest-first history, and the audited reads behind "show".

No Flask request here. The history is one UNION ALL over the tables that hold a patient's dealings
with the clinic (a page of (kind, id, time) rows, newest first), then one query per kind for that
page's rows: a page costs the same number of statements whether the patient has 5 entries or 5,000.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import String, bindparam, func, literal, select, union_all

from portal.care_requests.models import STATUS_LABELS as CARE_REQUEST_STATUS_LABELS, CareRequest, PartnerPatient
from portal.checkin.models import CheckIn
from portal.consultations import results
from portal.consultations.models import READY, Consultation, ConsultationFacts, ConsultationResult
from portal.extensions import db
from portal.follow_ups.services import FollowUpFacts, follow_ups_around
from portal.notifications.models import FAILED, Notification
from portal.partners.models import Partner
from portal.patients.models import Patient
from portal.referrals.models import CALL_OUTCOMES, STATUS_LABELS as REFERRAL_STATUS_LABELS, CallAttempt, Referral
from portal.scheduling.models import Appointment, Location, Schedule, Slot
from portal.security import audit
from portal.security.models import StaffUser, utcnow
from portal.security.policy import PatientRelation
from portal.travel_pay.models import STATUS_LABELS as CLAIM_STATUS_LABELS, TravelClaim, claim_status_label

PAGE_SIZE = 50
MAX_PAGE = 1000

# Why a doctor opens an earlier consultation's report: stored with the audit event of the read.
REPORT_REASONS = {
    "current_care": _l("I am treating the patient now"),
    "follow_up": _l("Following up earlier care"),
    "patient_asked": _l("The patient asked me to"),
    "clinical_review": _l("Clinical quality review"),
}

NATIONAL_ID_KINDS = {"fnr": _l("Fødselsnummer"), "nhs": _l("NHS number")}
LANGUAGES = {"nb": _l("Norwegian (bokmål)"), "en": _l("English")}


# The statements of this module are built once, with bound parameters: building them per request (a
# six-part UNION and seven SELECTs) was a third of a page's CPU. SQLAlchemy caches their compiled form.
PATIENT, IDS = bindparam("patient_id"), bindparam("ids", expanding=True)


class NotFound(LookupError):
    """No such patient, or the object is not this patient's: the page answers 404 either way."""


# -- who treats the patient (for the policy) --------------------------------------------------------

_TREATING = (select(Consultation.service_provider_id, func.max(func.cast(Consultation.state == READY, db.Integer)))
             .where(Consultation.patient_id == PATIENT).group_by(Consultation.service_provider_id))


def relation_to(patient_id: int) -> PatientRelation:
    """The facts the policy's patient-record rules ask about: one grouped query over the patient's consultations."""
    rows = db.session.execute(_TREATING, {"patient_id": patient_id}).all()
    doctors = frozenset(doctor for doctor, _waiting in rows if doctor is not None)
    in_queue = any(doctor is None and waiting for doctor, waiting in rows)
    return PatientRelation(patient_id, doctors, in_queue)


def get_patient(patient_id: int) -> Patient | None:
    return db.session.get(Patient, patient_id)


# -- details ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Details:
    patient: Patient
    national_id_kind: str | None
    national_id_masked: str | None
    language: str | None
    origins: list[str]
    last_sms_failed: bool
    last_email_failed: bool

    @property
    def phone_needs_check(self) -> bool:
        return self.patient.phone_needs_check


def mask(value: str | None) -> str | None:
    """All but the last two characters hidden: enough to tell two records apart on the phone."""
    if not value:
        return None
    return "•" * max(len(value) - 2, 0) + value[-2:]


def _last_messages():
    latest = (select(Notification.channel, func.max(Notification.id).label("id"))
              .where(Notification.patient_id == PATIENT).group_by(Notification.channel).subquery())
    return select(Notification.channel, Notification.status).join(latest, Notification.id == latest.c.id)


# Whether the last text message and the last e-mail to the patient got through: the contacts' validity flags.
_LAST_MESSAGES = _last_messages()
_PARTNERS = (select(Partner.name).join(PartnerPatient, PartnerPatient.partner_id == Partner.id)
             .where(PartnerPatient.patient_id == PATIENT).order_by(Partner.name))


def details(patient: Patient) -> Details:
    """What the top of the record shows. The national id is opened only to be masked here (the page
    view is audited); `reveal_national_id` shows it whole and audits that read on its own."""
    last_status = dict(db.session.execute(_LAST_MESSAGES, {"patient_id": patient.id}).all())
    partners = list(db.session.scalars(_PARTNERS, {"patient_id": patient.id}))
    origins = []
    if patient.from_insurer_referral:
        origins.append(_("Insurer referral"))
    if patient.direct_identity_index:
        origins.append(_("Direct: started online"))
    origins += [_("Partner: %(name)s", name=name) for name in partners]
    if not origins:
        origins.append(_("Added by staff or booked by another clinical system"))
    return Details(
        patient=patient,
        national_id_kind=str(NATIONAL_ID_KINDS.get(patient.national_id_kind, patient.national_id_kind or ""))
        or None,
        national_id_masked=mask(patient.national_id),
        language=str(LANGUAGES[patient.language]) if patient.language in LANGUAGES else patient.language,
        origins=origins,
        last_sms_failed=last_status.get("sms") == FAILED,
        last_email_failed=last_status.get("email") == FAILED,
    )


def record_viewed(patient: Patient, *, actor, **details) -> None:
    """Every page and fragment of the record is an audited read (the history's page, or which part)."""
    audit.record_read("patient.record_viewed", subject=patient, patient_id=patient.id, actor=actor, **details)


def reveal_national_id(patient: Patient, *, actor) -> str | None:
    """The whole national id, for a person who pressed "show": its own audited read."""
    audit.record_read("patient.national_id_viewed", subject=patient, patient_id=patient.id, actor=actor)
    return patient.national_id


# -- the history -------------------------------------------------------------------------------------

REFERRAL, CONSULTATION, APPOINTMENT, TRAVEL_CLAIM, CARE_REQUEST, MESSAGE = (
    "referral", "consultation", "appointment", "travel_claim", "care_request", "message")


def _entry_times():
    def part(kind, table_id, at, patient_column):
        return select(literal(kind, String(20)).label("kind"), table_id.label("id"), at.label("at")).where(
            patient_column == PATIENT)

    times = union_all(
        part(REFERRAL, Referral.id, Referral.received_at, Referral.patient_id),
        part(CONSULTATION, Consultation.id, Consultation.created_at, Consultation.patient_id),
        part(APPOINTMENT, Appointment.id, Appointment.start, Appointment.patient_id),
        part(TRAVEL_CLAIM, TravelClaim.id, TravelClaim.created_at, TravelClaim.patient_id),
        part(CARE_REQUEST, CareRequest.id, CareRequest.created_at, CareRequest.patient_id),
        part(MESSAGE, Notification.id, Notification.created_at, Notification.patient_id),
    ).subquery()
    return (select(times.c.kind, times.c.id, times.c.at)
            .order_by(times.c.at.desc(), times.c.kind, times.c.id.desc())
            .limit(bindparam("limit")).offset(bindparam("offset")))


_ENTRY_PAGE = _entry_times()


@dataclass(frozen=True)
class Entry:
    kind: str
    id: int
    at: datetime
    item: object


@dataclass
class History:
    entries: list[Entry]
    page: int
    more: bool


def history(patient_id: int, *, page: int = 1, per_page: int = PAGE_SIZE) -> History:
    """One page of everything the clinic did with the patient, newest first (an appointment by its start,
    so the upcoming ones lead)."""
    page = min(max(page, 1), MAX_PAGE)
    rows = db.session.execute(_ENTRY_PAGE, {"patient_id": patient_id, "limit": per_page + 1,
                                            "offset": (page - 1) * per_page}).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    ids: dict[str, list[int]] = {}
    for kind, row_id, _at in rows:
        ids.setdefault(kind, []).append(row_id)
    loaded = {kind: _LOADERS[kind](kind_ids) for kind, kind_ids in ids.items()}
    entries = [Entry(kind, row_id, at, loaded[kind][row_id]) for kind, row_id, at in rows
               if row_id in loaded[kind]]
    return History(entries, page, more)


@dataclass(frozen=True)
class CallRow:
    outcome: str
    at: datetime
    by: str | None

    @property
    def outcome_label(self) -> str:
        return CALL_OUTCOMES.get(self.outcome, self.outcome)


@dataclass
class ReferralRow:
    id: int
    status: str
    received_at: datetime
    decline_reason: str | None
    calls: list[CallRow] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return str(REFERRAL_STATUS_LABELS.get(self.status, self.status))


_REFERRALS = select(Referral.id, Referral.status, Referral.received_at, Referral.decline_reason).where(
    Referral.id.in_(IDS))
# The call log: outcomes, times and who called. The notes are sealed and stay on the referral's page.
_CALLS = (select(CallAttempt.referral_id, CallAttempt.outcome, CallAttempt.at, StaffUser.name)
          .outerjoin(StaffUser, StaffUser.id == CallAttempt.by_id)
          .where(CallAttempt.referral_id.in_(IDS)).order_by(CallAttempt.at.desc(), CallAttempt.id.desc()))


def _rows_by_id(statement, row_type, ids: list[int]) -> dict:
    """One prebuilt statement's rows for the page's ids, as `row_type` by their first column (the id)."""
    return {row[0]: row_type(*row) for row in db.session.execute(statement, {"ids": ids})}


def _referrals(ids: list[int]) -> dict[int, ReferralRow]:
    rows = {r.id: ReferralRow(r.id, r.status, r.received_at, r.decline_reason)
            for r in db.session.execute(_REFERRALS, {"ids": ids})}
    for referral_id, outcome, at, by in db.session.execute(_CALLS, {"ids": ids}):
        rows[referral_id].calls.append(CallRow(outcome, at, by))
    return rows


@dataclass
class ConsultationRow(ConsultationFacts):
    id: int
    code: str
    state: str
    primary_channel: str
    enabled_channels: list
    service_provider_id: int | None
    created_at: datetime
    starts_at: datetime | None
    ends_at: datetime | None
    cancelled_at: datetime | None
    doctor_name: str | None
    has_report: bool
    follow_ups: FollowUpFacts | None = None

    @property
    def treatment_duration(self) -> timedelta | None:
        if self.starts_at is None:
            return None
        return (self.ends_at or self.cancelled_at or utcnow()) - self.starts_at


_CONSULTATIONS = (
    select(Consultation.id, Consultation.code, Consultation.state, Consultation.primary_channel,
           Consultation.enabled_channels, Consultation.service_provider_id, Consultation.created_at,
           Consultation.starts_at, Consultation.ends_at, Consultation.cancelled_at, StaffUser.name,
           ConsultationResult.id.is_not(None))
    .outerjoin(StaffUser, StaffUser.id == Consultation.service_provider_id)
    .outerjoin(ConsultationResult, ConsultationResult.consultation_id == Consultation.id)
    .where(Consultation.id.in_(IDS)))


def _consultations(ids: list[int]) -> dict[int, ConsultationRow]:
    loaded = _rows_by_id(_CONSULTATIONS, ConsultationRow, ids)
    # What each follows up and what was booked from it: two queries for the page's consultations.
    for consultation_id, facts in follow_ups_around(list(loaded)).items():
        loaded[consultation_id].follow_ups = facts
    return loaded


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    status: str
    start: datetime
    end: datetime
    description: str | None
    schedule_id: int
    schedule_name: str
    time_zone: str
    location: str | None
    checked_in_at: datetime | None
    needs_front_desk: bool | None

    @property
    def local_start(self) -> datetime:
        return self.start.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(self.time_zone))


_APPOINTMENTS = (
    select(Appointment.id, Appointment.status, Appointment.start, Appointment.end, Appointment.description,
           Schedule.id, Schedule.name, Schedule.timezone, Location.name, CheckIn.checked_in_at,
           CheckIn.needs_front_desk)
    .join(Slot, Slot.id == Appointment.slot_id).join(Schedule, Schedule.id == Slot.schedule_id)
    .outerjoin(Location, Location.id == Schedule.location_id)
    .outerjoin(CheckIn, CheckIn.appointment_id == Appointment.id)
    .where(Appointment.id.in_(IDS)))


def _appointments(ids: list[int]) -> dict[int, AppointmentRow]:
    return _rows_by_id(_APPOINTMENTS, AppointmentRow, ids)


@dataclass(frozen=True)
class TravelClaimRow:
    id: int
    status: str
    claim_status: str | None
    claim_number: str | None
    appointment_date: object

    @property
    def status_label(self) -> str:
        label = CLAIM_STATUS_LABELS.get(self.status, self.status)
        if self.claim_status:
            return f"{label} ({claim_status_label(self.claim_status)})"
        return label


_TRAVEL_CLAIMS = select(TravelClaim.id, TravelClaim.status, TravelClaim.claim_status, TravelClaim.claim_number,
                        TravelClaim.appointment_date).where(TravelClaim.id.in_(IDS))


def _travel_claims(ids: list[int]) -> dict[int, TravelClaimRow]:
    return _rows_by_id(_TRAVEL_CLAIMS, TravelClaimRow, ids)


@dataclass(frozen=True)
class CareRequestRow:
    id: int
    status: str
    partner: str
    triage_reason: str | None

    @property
    def status_label(self) -> str:
        return str(CARE_REQUEST_STATUS_LABELS.get(self.status, self.status))


_CARE_REQUESTS = (select(CareRequest.id, CareRequest.status, Partner.name, CareRequest.triage_reason)
                  .join(Partner, Partner.id == CareRequest.partner_id).where(CareRequest.id.in_(IDS)))


def _care_requests(ids: list[int]) -> dict[int, CareRequestRow]:
    return _rows_by_id(_CARE_REQUESTS, CareRequestRow, ids)


@dataclass(frozen=True)
class MessageRow:
    id: int
    channel: str
    kind: str
    status: str
    consultation_id: int | None
    sent_at: datetime | None


# What was sent, how and whether it arrived; never the text or the address (both sealed).
_MESSAGES = select(Notification.id, Notification.channel, Notification.kind, Notification.status,
                   Notification.consultation_id, Notification.sent_at).where(Notification.id.in_(IDS))


def _messages(ids: list[int]) -> dict[int, MessageRow]:
    return _rows_by_id(_MESSAGES, MessageRow, ids)


_LOADERS = {
    REFERRAL: _referrals,
    CONSULTATION: _consultations,
    APPOINTMENT: _appointments,
    TRAVEL_CLAIM: _travel_claims,
    CARE_REQUEST: _care_requests,
    MESSAGE: _messages,
}


# -- earlier reports ----------------------------------------------------------------------------------

def report_of(patient_id: int, consultation_id: int) -> tuple[Consultation, ConsultationResult]:
    """The consultation of this patient and its filed report; NotFound when either is missing."""
    consultation = db.session.get(Consultation, consultation_id)
    if consultation is None or consultation.patient_id != patient_id:
        raise NotFound(consultation_id)
    result = results.result_of(consultation)
    if result is None:
        raise NotFound(consultation_id)
    return consultation, result


def read_earlier_report(consultation: Consultation, result: ConsultationResult, *, reason: str, actor) -> dict:
    """The report in the clear for someone who gave a reason from REPORT_REASONS; the read is audited
    with the reason (the policy has been asked first)."""
    if reason not in REPORT_REASONS:
        raise ValueError("choose a reason from the list")
    return results.read_report(result, actor=actor, patient_id=consultation.patient_id, reason=reason,
                               via="patient_record")
