"""The secretary's "book at another service": three plain forms (find → slots → book), no JavaScript needed."""

from flask import Blueprint, render_template

from portal.fhir import consumer
from portal.fhir.forms import BookRemoteSlotForm, ChooseServiceForm, FindServiceForm
from portal.fhir.parsing import parse_datetime
from portal.security.policy import requires

bp = Blueprint("book_elsewhere", __name__, url_prefix="/book-elsewhere")
TEMPLATE = "fhir/book_elsewhere.html"


def _page(status: int = 200, **context):
    context.setdefault("find_form", FindServiceForm(formdata=None))
    return render_template(TEMPLATE, **context), status


def _unavailable(exc: consumer.ExternalSystemError, **context):
    return _page(502, problem=f"The {exc.system} {exc.detail}. Nothing was booked; try again in a moment.",
                 **context)


@bp.get("")
@requires("booking.remote")
def start():
    return _page()


@bp.post("")
@requires("booking.remote")
def find_services():
    form = FindServiceForm()
    if not form.validate_on_submit():
        return _page(422, find_form=form)
    try:
        person = consumer.verify_person(form.nhs_number.data)
        services = consumer.find_services(form.postcode.data)
    except consumer.PersonNotFound:
        form.nhs_number.errors.append("The demographics service knows no person with this NHS number.")
        return _page(422, find_form=form)
    except consumer.ExternalSystemError as exc:
        return _unavailable(exc, find_form=form)
    return _page(person=person, services=services, find_form=form)


def _slots_page(form, status: int = 200, message: str | None = None):
    try:
        person = consumer.verify_person(form.nhs_number.data)
        service = consumer.resolve_service(form.service_id.data)
        slots = consumer.free_slots(service)
    except consumer.PersonNotFound:
        return _page(422, problem="The demographics service knows no person with this NHS number.")
    except consumer.ServiceNotFound:
        return _page(422, problem="The service directory no longer lists that service.")
    except consumer.ExternalSystemError as exc:
        return _unavailable(exc)
    return _page(status, person=person, service=service, slots=slots, message=message,
                 book_form=BookRemoteSlotForm(formdata=None))


@bp.post("/slots")
@requires("booking.remote")
def slots():
    form = ChooseServiceForm()
    if not form.validate_on_submit():
        return _page(422, problem="Choose a service from the list.")
    return _slots_page(form)


@bp.post("/book")
@requires("booking.remote")
def book():
    form = BookRemoteSlotForm()
    if not form.validate_on_submit():
        return _page(422, problem="Choose a slot from the list.")
    try:
        start, end = parse_datetime(form.start.data), parse_datetime(form.end.data)
        person = consumer.verify_person(form.nhs_number.data)
        service = consumer.resolve_service(form.service_id.data)
        appointment = consumer.book_at(service, person, slot_id=form.slot_id.data, start=start, end=end,
                                       description=form.description.data or None)
    except ValueError:
        return _page(422, problem="Choose a slot from the list.")
    except consumer.RemoteSlotTaken as exc:
        return _slots_page(form, 409, message=f"Not booked: {str(exc).rstrip('.')}. The list below is fresh.")
    except (consumer.PersonNotFound, consumer.ServiceNotFound):
        return _page(422, problem="The patient or the service is no longer known to the directories.")
    except consumer.ExternalSystemError as exc:
        return _unavailable(exc)
    return _page(201, person=person, service=service, booked=appointment, booked_start=start)
