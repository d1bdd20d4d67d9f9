"""The secretaries' triage queue: care requests that could not be self-scheduled are booked into a
slot, booked at another service or declined, once each; the creator is told by e-mail. No Flask request here."""

from collections.abc import Callable
from datetime import date

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from portal.care_requests import services as care_requests
from portal.care_requests.models import BOOKED, BOOKED_ELSEWHERE, DECLINED, TRIAGE, CareRequest
from portal.extensions import db
from portal.i18n import formatting
from portal.i18n.languages import speaking
from portal.notifications import services as outbox
from portal.partners.models import PartnerUser
from portal.scheduling import services as scheduling
from portal.scheduling.models import Slot
from portal.security import audit
from portal.security.models import utcnow


class NotFound(LookupError):
    pass


class AlreadyHandled(Exception):
    """Someone else moved the care request on first."""


def triage_queue() -> list[CareRequest]:
    return list(db.session.scalars(select(CareRequest).where(CareRequest.status == TRIAGE)
                                   .order_by(CareRequest.created_at, CareRequest.id).limit(200)))


def offered_slots(care_request: CareRequest, answers: dict) -> list:
    """Free slots of the request's service from the day the patient is available (what the partner
    entered in the visit form), never before today; none when the request names no service."""
    if not care_request.healthcare_service_id:
        return []
    try:
        available_from = max(date.fromisoformat(answers.get("available_from", "")), date.today())
    except (TypeError, ValueError):
        available_from = date.today()
    return care_requests.free_slots(care_request.healthcare_service_id, available_from)


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
    slot = db.session.get(Slot, slot_id)

    def booked():
        if slot is None:
            return _("was booked by the clinic")
        # In the zone of the clinic where the care happens, with its abbreviation: the reader may be elsewhere.
        start = formatting.when(slot.start, scheduling.clinic_zone(slot.schedule), show_zone=True)
        return _("was booked by the clinic for %(when)s", when=start)

    # Queued before the booking, so it commits with it (book_slot commits) or not at all.
    notifications = _tell_creator(care_request, booked)
    appointment = scheduling.book_slot(slot_id, patient_id=patient_id, actor=("staff", str(staff_id)),
                                       description="Booked from triage")
    care_request = care_requests.link_appointment(care_request_id, appointment.id)
    outbox.dispatch(notifications)
    return care_request


def _tell_creator(care_request: CareRequest, outcome: Callable[[], str]) -> list:
    """E-mail the triage outcome to the creator's notification address, if they gave one, in their language
    (`outcome` gives the words, called while speaking it).

    Only the care request number and the outcome: no patient data leaves by e-mail.
    """
    creator = db.session.get(PartnerUser, care_request.created_by_id)
    if creator is None or not creator.active or not creator.notification_email:
        return []
    link = f"{current_app.config['PORTAL_URL'].rstrip('/')}/partner/care-requests/{care_request.id}"
    with speaking(creator.language):
        what = outcome()
        subject = _("Care request %(id)s: %(outcome)s", id=care_request.id, outcome=what)
        text = _("Care request %(id)s %(outcome)s.\nDetails (sign-in needed): %(link)s", id=care_request.id,
                 outcome=what, link=link)
    return [outbox.queue_email(to=creator.notification_email, subject=subject, text=text,
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
    notifications = _tell_creator(care_request, lambda: _("was booked by the clinic at another service (%(where)s)",
                                                          where=where)) if marked else []
    db.session.commit()
    if marked:
        outbox.dispatch(notifications)
        care_requests.status_changed(care_request.partner_id)
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
    notifications = _tell_creator(care_request, lambda: _("was declined by the clinic"))
    db.session.commit()
    outbox.dispatch(notifications)
    care_requests.status_changed(care_request.partner_id)
