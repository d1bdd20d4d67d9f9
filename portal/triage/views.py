"""The secretaries' triage queue: care requests that partner staff could not self-schedule, to book
into a slot, book at another service or decline."""

import json

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import sqlite_writer
from portal.care_requests.forms import EmptyForm, SlotForm
from portal.scheduling import services as scheduling
from portal.security import audit
from portal.security.policy import requires
from portal.triage import services

bp = Blueprint("triage", __name__)


@bp.get("/triage")
@sqlite_writer.audited_page
@requires("triage.handle")
def queue():
    requests_ = services.triage_queue()
    audit.record_read("triage.queue", care_request_ids=[c.id for c in requests_])
    zones = scheduling.zones_of_services(c.healthcare_service_id for c in requests_)
    return render_template("triage/queue.html", care_requests=requests_, zones=zones)


@bp.get("/triage/<int:care_request_id>")
@sqlite_writer.audited_page
@requires("triage.handle")
def detail(care_request_id):
    care_request = services.get_triage_request(care_request_id)
    if care_request is None:
        abort(404)
    answers = json.loads(care_request.answers or "{}")
    slots = services.offered_slots(care_request, answers)
    audit.record_read("triage.view", subject=care_request, patient_id=care_request.patient_id,
                      care_request_id=care_request.id)
    return render_template("triage/detail.html", care_request=care_request, slots=slots, answers=answers,
                           zones=scheduling.zones_of_schedules(slot.schedule_id for slot in slots), empty=EmptyForm())


@bp.post("/triage/<int:care_request_id>/book")
@requires("triage.handle")
def book(care_request_id):
    form = SlotForm()
    if not form.validate_on_submit():
        flash(_("Choose a slot."))
        return redirect(url_for(".detail", care_request_id=care_request_id))
    try:
        services.book_from_triage(care_request_id, form.slot_id.data, staff_id=current_user.id)
    except services.NotFound:
        abort(404)
    except services.AlreadyHandled:
        flash(_("Someone else handled this care request already."))
        return redirect(url_for(".queue"))
    except scheduling.SchedulingError:
        flash(_("That slot cannot be booked any more. Choose another."))
        return redirect(url_for(".detail", care_request_id=care_request_id))
    flash(_("Booked."))
    return redirect(url_for(".queue"))


@bp.post("/triage/<int:care_request_id>/decline")
@requires("triage.handle")
def decline(care_request_id):
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.decline_from_triage(care_request_id, staff_id=current_user.id)
    except services.NotFound:
        abort(404)
    except services.AlreadyHandled:
        flash(_("Someone else handled this care request already."))
        return redirect(url_for(".queue"))
    flash(_("Declined."))
    return redirect(url_for(".queue"))
