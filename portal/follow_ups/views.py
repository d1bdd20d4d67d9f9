"""The follow-up page of a consultation (its doctor): book a follow-up consultation or an appointment.

Also what every consultation page shows of its follow-ups, hooked into the consultation page through
`consultations.events.consultation_page` (the consultations package does not know this one).
"""

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from portal.consultations import events, services as consultations
from portal.follow_ups import services
from portal.follow_ups.forms import FindSlotsForm, FollowUpAppointmentForm, FollowUpConsultationForm
from portal.scheduling import services as scheduling
from portal.security.policy import authorize_found, can, requires

bp = Blueprint("follow_ups", __name__, url_prefix="/consultations")

TEMPLATE = "follow_ups/book.html"


def _origin(consultation_id: int):
    return authorize_found("consultation.follow_up", consultations.get_consultation(consultation_id))


def _slot_search(find: FindSlotsForm):
    """The diaries, the chosen one and day, and that day's free times (none until a diary is chosen)."""
    schedules = services.diaries()
    find.schedule.choices = [(s.id, s.name) for s in schedules]
    chosen = next((s for s in schedules if s.id == find.schedule.data), None)
    day = find.day.data or services.clinic_today()
    slots = services.free_slots(chosen, day) if chosen is not None else []
    return chosen, day, slots


def _page(origin, status: int = 200, *, consultation_form=None, appointment_form=None, find=None, message=None):
    find = find or FindSlotsForm(request.args)
    chosen, day, slots = _slot_search(find)
    appointment_form = appointment_form or FollowUpAppointmentForm(formdata=None)
    appointment_form.slot_id.choices = [(slot.id, slot.local_start.strftime("%H:%M")) for slot in slots]
    appointment_form.schedule.data = str(chosen.id) if chosen else ""
    appointment_form.day.data = day.isoformat()
    consultation_form = consultation_form or FollowUpConsultationForm(
        formdata=None, channels=list(origin.enabled_channels), primary_channel=origin.primary_channel)
    facts = services.follow_ups_around([origin.id])[origin.id]
    return render_template(TEMPLATE, consultation=origin, facts=facts, consultation_form=consultation_form,
                           appointment_form=appointment_form, find=find, chosen=chosen, day=day, slots=slots,
                           today=services.clinic_today(), message=message, may=_may()), status


def _may():
    user = current_user._get_current_object()
    return lambda action, obj=None: can(user, action, obj)


@bp.get("/<int:consultation_id>/follow-up")
@requires("consultation.follow_up")
def book(consultation_id: int):
    origin = _origin(consultation_id)
    if origin.state not in services.FOLLOW_UP_STATES:
        return _page(origin, 409, message=_("A follow-up is booked from a consultation in progress or completed."))
    return _page(origin)


@bp.post("/<int:consultation_id>/follow-up/consultation")
@requires("consultation.follow_up")
def book_consultation(consultation_id: int):
    origin = _origin(consultation_id)
    form = FollowUpConsultationForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(origin, 422, consultation_form=form)
    try:
        follow_up = services.book_follow_up_consultation(
            origin, doctor_id=current_user.id, channels=form.channels.data, primary_channel=form.primary_channel.data,
            with_me=form.doctor.data == "me", not_before=form.not_before.data)
    except services.InvalidFollowUp as exc:
        for name, error in exc.errors.items():
            getattr(form, name).errors = [*getattr(form, name).errors, error]
        return _page(origin, 422, consultation_form=form)
    except services.NotAllowedNow as exc:
        return _page(origin, 409, consultation_form=form, message=str(exc))
    flash(_("Follow-up consultation booked from %(day)s.", day=follow_up.not_before.isoformat()) + " " + _told(origin))
    return redirect(url_for("consultations.detail", consultation_id=origin.id))


@bp.post("/<int:consultation_id>/follow-up/appointment")
@requires("consultation.follow_up")
def book_appointment(consultation_id: int):
    origin = _origin(consultation_id)
    form = FollowUpAppointmentForm()
    find = FindSlotsForm(data={"schedule": _int(form.schedule.data), "day": _day(form.day.data)})
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(origin, 422, appointment_form=form, find=find)
    try:
        services.book_follow_up_appointment(origin, doctor_id=current_user.id, slot_id=form.slot_id.data)
    except services.NotAllowedNow as exc:
        return _page(origin, 409, find=find, message=str(exc))
    except scheduling.SlotTaken:
        return _page(origin, 409, find=find,
                     message=_("Someone else booked that time a moment ago. Choose another free time."))
    except (scheduling.SlotNotFound, scheduling.SlotInPast):
        return _page(origin, 409, find=find, message=_("That time can no longer be booked. Choose another."))
    flash(_("Follow-up appointment booked.") + " " + _told(origin))
    return redirect(url_for("consultations.detail", consultation_id=origin.id))


def _told(origin) -> str:
    if origin.patient.phone or origin.patient.email:
        return _("The patient has been told.")
    return _("The patient has no phone or e-mail on record: tell them yourself.")


def _int(value):
    return int(value) if value and str(value).isdigit() and len(str(value)) < 10 else None


def _day(value):
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


@events.consultation_page.connect
def _follow_ups_on_the_consultation_page(consultation, *, viewer, **_):
    """The follow-up part of a consultation's page: what it follows up, what was booked from it, and the
    way to book one for its doctor."""
    facts = services.follow_ups_around([consultation.id])[consultation.id]
    may_book = can(viewer, "consultation.follow_up", consultation) and consultation.state in services.FOLLOW_UP_STATES
    if not (facts.of or facts.booked or may_book):
        return None
    return Markup(render_template("follow_ups/_on_consultation.html", consultation=consultation, facts=facts,
                                  may_book=may_book, may=lambda action, obj=None: can(viewer, action, obj)))
