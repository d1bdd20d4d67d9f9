"""The secretary's diary (day and week, block/unblock) and the admin's schedule set-up."""

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block

from portal import sqlite_writer
from portal.i18n.formatting import slot
from portal.pages import htmx_wants
from portal.patients.services import InvalidPatient
from portal.scheduling import services
from portal.scheduling.forms import WEEKDAYS, GenerateForm, ScheduleForm, StaffBookingForm, TemplateForm
from portal.scheduling.models import FREE
from portal.security import audit
from portal.security.policy import authorize, requires

bp = Blueprint("scheduling", __name__)

DIARY_TEMPLATE = "scheduling/diary.html"
ADMIN_TEMPLATE = "scheduling/admin.html"


def _load_schedule(schedule_id: int, action: str):
    schedule = services.get_schedule(schedule_id)
    if schedule is None:
        abort(404)
    authorize(action, schedule)
    return schedule


@bp.get("/schedules")
@requires("schedule.view")
def schedules():
    return render_template("scheduling/schedules.html", schedules=services.list_schedules())


@bp.get("/schedules/<int:schedule_id>")
@sqlite_writer.audited_page
@requires("schedule.view")
def diary(schedule_id: int):
    schedule = _load_schedule(schedule_id, "schedule.view")
    view = "week" if request.args.get("view") == "week" else "day"
    try:
        day = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        day = services.local_today(schedule)
    if view == "week":
        day -= timedelta(days=day.weekday())
    days = 7 if view == "week" else 1
    the_diary = services.diary(schedule, day, days)
    audit.record_read("schedule.diary_viewed", subject=schedule, patient_ids=the_diary.patient_ids)
    return render_template(DIARY_TEMPLATE, diary=the_diary, view=view, day=day, step=timedelta(days=days))


def _slot_changed(slot_id: int, change, done: str):
    entry = services.diary_entry(slot_id)
    if entry is None:
        abort(404)
    authorize("slot.block", entry.slot)
    message, status = str(done), 200
    try:
        change(slot_id)
    except services.SlotNotChangeable:
        message, status = _("Not changed: the slot was booked or changed by someone else first."), 409
    entry = services.diary_entry(slot_id)
    if htmx_wants():
        return render_block(DIARY_TEMPLATE, "slot_row", entry=entry, message=message), status
    flash(message)
    day = entry.local_start.date().isoformat()
    return redirect(url_for("scheduling.diary", schedule_id=entry.slot.schedule_id, day=day))


@bp.post("/slots/<int:slot_id>/block")
@requires("slot.block")
def block(slot_id: int):
    return _slot_changed(slot_id, services.block_slot, _l("Slot blocked."))


@bp.post("/slots/<int:slot_id>/unblock")
@requires("slot.block")
def unblock(slot_id: int):
    return _slot_changed(slot_id, services.unblock_slot, _l("Slot free again."))


def _staff_actor() -> tuple[str, str]:
    return ("staff", str(current_user.id))


def _diary_url(entry) -> str:
    return url_for("scheduling.diary", schedule_id=entry.slot.schedule_id, day=entry.local_start.date().isoformat())


@bp.route("/slots/<int:slot_id>/book", methods=["GET", "POST"])
@requires("appointment.book")
def book(slot_id: int):
    entry = services.diary_entry(slot_id)
    if entry is None:
        abort(404)
    authorize("appointment.book", entry.slot)
    form = StaffBookingForm()
    if entry.slot.status == FREE and not entry.bookable:
        return render_template("scheduling/book.html", entry=entry, form=form,
                               problem=_("This slot has already started. Choose a later one in the diary.")), 409
    if not form.validate_on_submit():
        return render_template("scheduling/book.html", entry=entry, form=form), 422 if form.is_submitted() else 200
    new_patient = form.new_patient() if form.describes_new_patient() else None
    try:
        appointment = services.book_for_patient(slot_id, national_id=form.national_id.data, new_patient=new_patient,
                                                actor=_staff_actor(), description=form.description.data or None)
    except services.UnknownPatient:
        form.national_id.errors.append(_("No patient with this national id is known here. To add a new patient, "
                                         "fill in their details below."))
        return render_template("scheduling/book.html", entry=entry, form=form, new_patient=True), 422
    except InvalidPatient as exc:
        for name, message in exc.errors.items():
            getattr(form, name).errors.append(message)
        return render_template("scheduling/book.html", entry=entry, form=form, new_patient=True), 422
    except (services.SlotTaken, services.SlotInPast):
        entry = services.diary_entry(slot_id)
        return render_template("scheduling/book.html", entry=entry, form=form,
                               problem=_("This slot is no longer free. Choose another one in the diary.")), 409
    flash(_("Booked %(name)s at %(slot)s.", name=appointment.patient.full_name,
            slot=slot(entry.slot.start, entry.local_start.tzinfo)))
    return redirect(_diary_url(entry))


@bp.post("/appointments/<int:appointment_id>/cancel")
@requires("appointment.cancel")
def cancel(appointment_id: int):
    appointment = services.get_appointment(appointment_id)
    if appointment is None:
        abort(404)
    authorize("appointment.cancel", appointment)
    message, status = _("Appointment cancelled; the slot is free again."), 200
    try:
        services.cancel_appointment(appointment_id, actor=_staff_actor())
    except services.AlreadyCancelled:
        message, status = _("Already cancelled."), 409
    entry = services.diary_entry(appointment.slot_id)
    if htmx_wants():
        return render_block(DIARY_TEMPLATE, "slot_row", entry=entry, message=message), status
    flash(message)
    return redirect(_diary_url(entry))


# --- admin -----------------------------------------------------------------------------------------

def _template_form(schedule_id: int, formdata=None) -> TemplateForm:
    # One form per schedule on the page: the prefix keeps their field ids apart.
    return TemplateForm(formdata=formdata, prefix=f"t{schedule_id}")


def _generate_form(schedule_id: int, formdata=None) -> GenerateForm:
    return GenerateForm(formdata=formdata, prefix=f"g{schedule_id}")


def _admin_page(status: int = 200, schedule_form=None, failed=None):
    schedules = services.list_schedules()
    forms = {s.id: (_template_form(s.id), _generate_form(s.id)) for s in schedules}
    if failed is not None:
        schedule_id, form = failed
        template_form, generate_form = forms[schedule_id]
        forms[schedule_id] = (form, generate_form) if isinstance(form, TemplateForm) else (template_form, form)
    return render_template(ADMIN_TEMPLATE, schedules=schedules, forms=forms,
                           weekday_names=[name for value, name in WEEKDAYS],
                           schedule_form=schedule_form or ScheduleForm(formdata=None)), status


@bp.get("/scheduling/admin")
@requires("schedule.manage")
def admin():
    return _admin_page()


@bp.post("/scheduling/admin/schedules")
@requires("schedule.manage")
def create_schedule():
    form = ScheduleForm()
    if not form.validate_on_submit():
        return _admin_page(422, schedule_form=form)
    schedule = services.set_up_schedule(
        name=form.name.data, service_name=form.service_name.data, organisation_code=form.organisation_code.data,
        location_name=form.location_name.data or None, practitioner_given=form.practitioner_given.data or None,
        practitioner_family=form.practitioner_family.data or None, timezone_name=form.timezone.data,
    )
    flash(_("Schedule “%(name)s” created. Add its weekly hours, then generate slots.", name=schedule.name))
    return redirect(url_for("scheduling.admin"))


@bp.post("/scheduling/admin/schedules/<int:schedule_id>/templates")
@requires("schedule.manage")
def add_template(schedule_id: int):
    schedule = _load_schedule(schedule_id, "schedule.manage")
    form = _template_form(schedule.id, request.form)
    if not form.validate_on_submit():
        return _admin_page(422, failed=(schedule.id, form))
    try:
        services.add_weekly_template(schedule.id, weekday=int(form.weekday.data), start_time=form.start_time.data,
                                     end_time=form.end_time.data, slot_minutes=form.slot_minutes.data)
    except services.InvalidSchedule as exc:
        getattr(form, exc.field or "slot_minutes").errors.append(str(exc))
        return _admin_page(422, failed=(schedule.id, form))
    flash(_("Weekly hours added."))
    return redirect(url_for("scheduling.admin"))


@bp.post("/scheduling/admin/templates/<int:template_id>/delete")
@requires("schedule.manage")
def remove_template(template_id: int):
    services.remove_weekly_template(template_id)
    flash(_("Weekly hours removed; slots already generated are kept."))
    return redirect(url_for("scheduling.admin"))


@bp.post("/scheduling/admin/schedules/<int:schedule_id>/generate")
@requires("schedule.manage")
def generate(schedule_id: int):
    schedule = _load_schedule(schedule_id, "schedule.manage")
    form = _generate_form(schedule.id, request.form)
    if not form.validate_on_submit():
        return _admin_page(422, failed=(schedule.id, form))
    try:
        created = services.generate_slots(schedule.id, form.first_day.data, form.last_day.data)
    except services.InvalidSchedule as exc:
        form.last_day.errors.append(str(exc))
        return _admin_page(422, failed=(schedule.id, form))
    flash(ngettext("%(num)d new slot for “%(name)s”.", "%(num)d new slots for “%(name)s”.", created,
                   name=schedule.name))
    return redirect(url_for("scheduling.admin"))
