"""The secretary's "book at another service": three plain forms (find → slots → book), no JavaScript needed.

Opened from a referral or a triage request, the page carries only that object's id (in the URL
and then in the forms); the patient is looked up here, with the policy's check, and audited.
"""

import re
from dataclasses import dataclass

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

from portal import sqlite_writer
from portal.book_elsewhere import services as consumer
from portal.book_elsewhere.forms import BookRemoteSlotForm, ChooseServiceForm, FindServiceForm
from portal.fhir.parsing import parse_datetime
from portal.ids import parse_id
from portal.referrals.services import get_referral
from portal.security import audit
from portal.security.policy import authorize, requires
from portal.triage.services import get_triage_request

bp = Blueprint("book_elsewhere", __name__, url_prefix="/book-elsewhere")
TEMPLATE = "book_elsewhere/book.html"


@dataclass
class BookingFor:
    """The referral or triage request a booking is made for, as the page needs it."""
    referral: object = None
    care_request: object = None

    @property
    def patient(self):
        return (self.referral or self.care_request).patient

    @property
    def nhs_number(self) -> str | None:
        return consumer.source_patient_nhs_number(self.patient)


@bp.app_template_global()
def bookings_elsewhere(*, referral_id: int | None = None, care_request_id: int | None = None) -> list:
    """For the referral and triage pages, which show what was booked elsewhere without importing this package."""
    return consumer.remote_bookings(referral_id=referral_id, care_request_id=care_request_id)


def _id(value) -> int | None:
    try:
        return parse_id(value)
    except ValueError:
        abort(404)


def _booking_for(referral_id, care_request_id) -> BookingFor | None:
    """Load and check the referral or care request; 404 when unknown or not the user's to see."""
    referral_id, care_request_id = _id(referral_id), _id(care_request_id)
    if referral_id is not None:
        referral = get_referral(referral_id)
        if referral is None:
            abort(404)
        authorize("referral.view", referral)
        return BookingFor(referral=referral)
    if care_request_id is not None:
        authorize("triage.handle")
        care_request = get_triage_request(care_request_id)
        if care_request is None:
            abort(404)
        return BookingFor(care_request=care_request)
    return None


def _from_form(form) -> BookingFor | None:
    return _booking_for(form.referral_id.data, form.care_request_id.data)


def _page(status: int = 200, **context):
    context.setdefault("find_form", FindServiceForm(formdata=None))
    context.setdefault("booking_for", None)
    return render_template(TEMPLATE, **context), status


# What an ExternalSystemError says (in English, for the log), as the page says it in the reader's language.
SYSTEMS = {"service directory": _l("service directory"), "endpoint directory": _l("endpoint directory"),
           "demographics service": _l("demographics service"), "booking provider": _l("booking provider")}
DETAILS = {"did not answer in time": _l("did not answer in time"), "could not be reached": _l("could not be reached"),
           "sent an unreadable answer": _l("sent an unreadable answer"),
           "sent no access token": _l("sent no access token"),
           "answered": _l("answered %(status)s"), "refused the search": _l("refused the search (%(status)s)"),
           "refused our credentials": _l("refused our credentials (%(status)s)"),
           "refused the slot search": _l("refused the slot search (%(status)s)"),
           "refused the booking": _l("refused the booking (%(status)s)"),
           "refused to show the appointment": _l("refused to show the appointment (%(status)s)"),
           "refused the change": _l("refused the change (%(status)s)")}
_STATUS = re.compile(r"^(?P<what>.+?) \(?(?P<status>\d{3})\)?$")


def _detail(detail: str) -> str:
    if detail in DETAILS:
        return str(DETAILS[detail])
    found = _STATUS.match(detail)
    if found and found["what"] in DETAILS:
        return str(DETAILS[found["what"]]) % {"status": found["status"]}
    return detail


def _unavailable(exc: consumer.ExternalSystemError, **context):
    return _page(502, problem=_("The %(system)s %(detail)s. Nothing was booked; try again in a moment.",
                                system=SYSTEMS.get(exc.system, exc.system), detail=_detail(exc.detail)), **context)


def _not_in_triage(booking_for: BookingFor) -> bool:
    return booking_for is not None and booking_for.care_request is not None \
        and booking_for.care_request.status != "triage"


def _wrong_person(booking_for: BookingFor | None, nhs_number: str) -> bool:
    # When we hold the patient's NHS number, a booking "for this referral" must be for that person.
    return booking_for is not None and booking_for.nhs_number is not None and booking_for.nhs_number != nhs_number


@bp.get("")
@sqlite_writer.audited_page
@requires("booking.remote")
def start():
    booking_for = _booking_for(request.args.get("referral"), request.args.get("care_request"))
    form = FindServiceForm(formdata=None)
    if booking_for is not None:
        audit.record_read("book_elsewhere.opened", patient_id=booking_for.patient.id,
                          referral_id=getattr(booking_for.referral, "id", None),
                          care_request_id=getattr(booking_for.care_request, "id", None))
        form.referral_id.data = getattr(booking_for.referral, "id", "")
        form.care_request_id.data = getattr(booking_for.care_request, "id", "")
        form.nhs_number.data = booking_for.nhs_number
        if _not_in_triage(booking_for):
            return _page(409, booking_for=booking_for, find_form=form,
                         problem=_("This care request is no longer in triage: someone has handled it."))
    return _page(booking_for=booking_for, find_form=form)


@bp.post("")
@requires("booking.remote")
def find_services():
    form = FindServiceForm()
    booking_for = _from_form(form)
    if not form.validate_on_submit():
        return _page(422, find_form=form, booking_for=booking_for)
    if _wrong_person(booking_for, form.nhs_number.data):
        form.nhs_number.errors.append(_("This is not the NHS number of the patient you are booking for."))
        return _page(422, find_form=form, booking_for=booking_for)
    try:
        person = consumer.verify_person(form.nhs_number.data)
        services = consumer.find_services(form.postcode.data)
    except consumer.PersonNotFound:
        form.nhs_number.errors.append(_("The demographics service knows no person with this NHS number."))
        return _page(422, find_form=form, booking_for=booking_for)
    except consumer.ExternalSystemError as exc:
        return _unavailable(exc, find_form=form, booking_for=booking_for)
    return _page(person=person, services=services, find_form=form, booking_for=booking_for)


def _slots_page(form, booking_for, status: int = 200, message: str | None = None):
    try:
        person = consumer.verify_person(form.nhs_number.data)
        service = consumer.resolve_service(form.service_id.data)
        slots = consumer.free_slots(service)
    except consumer.PersonNotFound:
        return _page(422, problem=_("The demographics service knows no person with this NHS number."),
                     booking_for=booking_for)
    except consumer.ServiceNotFound:
        return _page(422, problem=_("The service directory no longer lists that service."), booking_for=booking_for)
    except consumer.ExternalSystemError as exc:
        return _unavailable(exc, booking_for=booking_for)
    return _page(status, person=person, service=service, slots=slots, message=message, booking_for=booking_for,
                 book_form=BookRemoteSlotForm(formdata=None))


@bp.post("/slots")
@requires("booking.remote")
def slots():
    form = ChooseServiceForm()
    booking_for = _from_form(form)
    if not form.validate_on_submit() or _wrong_person(booking_for, form.nhs_number.data):
        return _page(422, problem=_("Choose a service from the list."), booking_for=booking_for)
    return _slots_page(form, booking_for)


@bp.post("/book")
@requires("booking.remote")
def book():
    form = BookRemoteSlotForm()
    booking_for = _from_form(form)
    if not form.validate_on_submit() or _wrong_person(booking_for, form.nhs_number.data):
        return _page(422, problem=_("Choose a slot from the list."), booking_for=booking_for)
    if _not_in_triage(booking_for):
        return _page(409, problem=_("Not booked: this care request is no longer in triage; someone has handled it."),
                     booking_for=booking_for)
    try:
        start, end = parse_datetime(form.start.data), parse_datetime(form.end.data)
        person = consumer.verify_person(form.nhs_number.data)
        service = consumer.resolve_service(form.service_id.data)
        slot = consumer.RemoteSlot(id=form.slot_id.data, start=start, end=end,
                                   identifier=form.slot_identifier.data or None, schedule=form.schedule.data or None)
        appointment = consumer.book_at(service, person, slot, description=form.description.data or None)
    except ValueError:
        return _page(422, problem=_("Choose a slot from the list."), booking_for=booking_for)
    except consumer.RemoteBookingRefused as exc:
        return _slots_page(form, booking_for, 409,
                           message=_("Not booked: %(reason)s. The list below is fresh.", reason=str(exc).rstrip(".")))
    except (consumer.PersonNotFound, consumer.ServiceNotFound):
        return _page(422, problem=_("The patient or the service is no longer known to the directories."),
                     booking_for=booking_for)
    except consumer.ExternalSystemError as exc:
        return _unavailable(exc, booking_for=booking_for)
    handled_meanwhile = False
    if booking_for is not None:
        handled_meanwhile = not consumer.record_remote_booking(
            patient_id=booking_for.patient.id, service=service, appointment=appointment, start=start,
            staff_id=current_user.id, referral_id=getattr(booking_for.referral, "id", None),
            care_request_id=getattr(booking_for.care_request, "id", None))
    return _page(201, person=person, service=service, booked=appointment, booked_start=start,
                 booking_for=booking_for, handled_meanwhile=handled_meanwhile)
