"""Partner staff's care requests: the list (live), a request's page, patient search and creation,
the handoff to self-scheduling, the visit questions and the booking.

Thin: parse input, ask policy (which also gives the partner every query is filtered by),
call a service, render. Patient data never goes into a URL: searches are POSTed and the
handoff carries an opaque token.
"""

import json
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from portal import live, sqlite_writer
from portal.care_requests import services
from portal.care_requests.forms import EmptyForm, PatientForm, SearchForm, SlotForm, VisitForm
from portal.care_requests.models import NO_FREE_SLOT, STATUS_LABELS, triage_reason_text
from portal.extensions import limiter
from portal.i18n.formatting import time_tags
from portal.i18n.languages import labels_in_language
from portal.pages import page_or_block, url_per_id
from portal.partners import services as partner_services
from portal.partners.sign_in import partner_pages
from portal.scheduling import services as scheduling
from portal.security import audit
from portal.security.auth import background
from portal.security.policy import authorize, partner_scope, requires

bp = partner_pages(Blueprint("care_requests", __name__), home="care_requests.index")

HANDOFF_SESSION_KEY = "handoff"


bp.add_app_template_global(triage_reason_text, "triage_reason")


@bp.app_template_global()
def care_request_status(status: str) -> str:
    """A care request's status in the reader's language (partner pages and the secretaries' triage)."""
    return str(STATUS_LABELS.get(status, status))


LIST_TEMPLATE = "care_requests/list.html"


def _list_context(partner_id: int) -> dict:
    tab = "past" if request.args.get("tab") == "past" else "current"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    # Read before the list: a change committed during the render shows at the next poll.
    version = live.version(services.live_topic(partner_id))
    rows, has_next = services.list_care_requests(partner_id, tab=tab, page=page)
    audit.record_read("care_request.list", partner_id=partner_id, tab=tab, page=page,
                      care_request_ids=[r.id for r in rows])
    # Times are shown where the care happens: each service's clinic zone, looked up once for the page.
    zones = scheduling.zones_of_services(r.service_id for r in rows)
    return {"rows": _list_rows(rows, zones), "tab": tab, "page": page, "has_next": has_next, "version": version}


def _list_rows(rows, zones) -> list[tuple]:
    """Each row's cells, worked out once in Python: (id, detail URL, created <time>, status, patient, service,
    appointment <time> or None). The template unpacks the tuples: no attribute lookups, filter or function
    calls per row. The statuses are translated once per catalog (process-wide), not per page or row."""
    detail_url = url_per_id("care_requests.detail", "care_request_id")
    statuses = labels_in_language(STATUS_LABELS)
    time_tag = time_tags()
    cells = []
    for row in rows:
        zone = zones.get(row.service_id)
        cells.append((row.id, detail_url(row.id), time_tag(row.created_at, zone), statuses.get(row.status, row.status),
                      row.patient_name, row.service_name or "—",
                      time_tag(row.appointment_start, zone) if row.appointment_start else None))
    return cells


@bp.get("/partner/care-requests")
@sqlite_writer.audited_page
@requires("care_request.list")
def index():
    return render_template(LIST_TEMPLATE, **_list_context(partner_scope(current_user)))


@bp.get("/partner/care-requests/poll")
@sqlite_writer.audited_page
@requires("care_request.list")
@limiter.exempt
@background
def poll():
    """204 while this partner's care requests are unchanged; the fresh list once a status changed."""
    partner_id = partner_scope(current_user)
    if request.args.get("since", type=int) == live.version(services.live_topic(partner_id)):
        return "", 204
    return render_block(LIST_TEMPLATE, "care_request_list", **_list_context(partner_id))


@bp.get("/partner/care-requests/<int:care_request_id>")
@sqlite_writer.audited_page
@requires("care_request.view")
def detail(care_request_id):
    care_request = services.get_care_request(partner_scope(current_user), care_request_id)
    if care_request is None:
        abort(404)
    authorize("care_request.view", care_request)
    answers = json.loads(care_request.answers or "{}")
    audit.record_read("care_request.view", subject=care_request, patient_id=care_request.patient_id,
                      care_request_id=care_request.id)
    zone = scheduling.zones_of_services([care_request.healthcare_service_id]).get(care_request.healthcare_service_id)
    return render_template("care_requests/detail.html", care_request=care_request, answers=answers, zone=zone)


# --- patients and the handoff ----------------------------------------------------------------------

@bp.get("/partner/care-requests/new")
@requires("partner_patient.search")
def new():
    return render_template("care_requests/new.html", search=SearchForm(formdata=None), form=PatientForm(formdata=None),
                           patients=None, schedule_form=EmptyForm())


@bp.post("/partner/patients/search")
@requires("partner_patient.search")
def search_patients():
    partner_id = partner_scope(current_user)
    search = SearchForm()
    patients = services.search_patients(partner_id, search.q.data) if search.validate_on_submit() else None
    if patients:
        audit.record_read("partner_patient.search", partner_id=partner_id, patient_ids=[p.id for p in patients])
    context = dict(search=search, form=PatientForm(formdata=None), patients=patients, schedule_form=EmptyForm())
    return page_or_block("care_requests/new.html", "results", **context)


@bp.post("/partner/patients")
@requires("partner_patient.create")
def create_patient():
    partner_id = partner_scope(current_user)
    form = PatientForm()
    if not form.validate_on_submit():
        return render_template("care_requests/new.html", search=SearchForm(formdata=None), form=form, patients=None,
                               schedule_form=EmptyForm()), 422
    patient = services.create_partner_patient(partner_id, first_name=form.first_name.data,
                                              last_name=form.last_name.data, birth_date=form.birth_date.data,
                                              phone=form.phone.data)
    return _hand_off(partner_id, patient.id)


@bp.post("/partner/patients/<int:patient_id>/schedule")
@requires("care_request.schedule")
def schedule_patient(patient_id):
    partner_id = partner_scope(current_user)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if services.get_partner_patient(partner_id, patient_id) is None:
        abort(404)
    return _hand_off(partner_id, patient_id)


def _hand_off(partner_id: int, patient_id: int):
    token = services.issue_handoff(partner_id=partner_id, user_id=current_user.id, patient_id=patient_id)
    return redirect(url_for(".redeem", token=token))


@bp.get("/schedule/<token>")
@requires("care_request.schedule")
def redeem(token):
    prefill = services.redeem_handoff(token, partner_id=partner_scope(current_user), user_id=current_user.id)
    if prefill is None:
        return render_template("partners/message.html", title=_("This link has expired"),
                               message=_("The scheduling link is no longer valid (it works once, for ten minutes). "
                                         "Start again from the care requests.")), 410
    # Only ids go into the (signed, readable) session cookie: no patient data.
    session[HANDOFF_SESSION_KEY] = {"patient_id": prefill["patient_id"], "partner_id": prefill["partner_id"]}
    return redirect(url_for(".visit"))


def _handoff_patient():
    """The patient of the redeemed handoff, re-checked against the signed-in user's partner."""
    handoff = session.get(HANDOFF_SESSION_KEY)
    partner_id = partner_scope(current_user)
    if not handoff or handoff.get("partner_id") != partner_id:
        abort(404)
    patient = services.get_partner_patient(partner_id, handoff["patient_id"])
    if patient is None:
        abort(404)
    return patient


def _visit_form():
    form = VisitForm()
    form.service_id.choices = partner_services.service_choices()
    if request.method == "GET":
        form.service_id.data = current_user.default_service_id
        form.available_from.data = date.today()
    return form


@bp.route("/schedule", methods=["GET", "POST"])
@sqlite_writer.audited_page
@requires("care_request.schedule")
def visit():
    patient = _handoff_patient()
    form = _visit_form()
    if request.method == "GET" or not form.validate_on_submit():
        audit.record_read("care_request.visit_form", patient_id=patient.id)
        return render_template("care_requests/visit.html", form=form, patient=patient), (
            422 if request.method == "POST" else 200)
    return _after_visit_form(patient, form)


def _answers(form) -> dict:
    return {"address": form.address.data, "available_from": form.available_from.data.isoformat()}


def _to_triage(patient, form, why: str):
    care_request = services.send_to_triage(current_user, patient.id, service_id=form.service_id.data,
                                           reason=form.reason.data, answers=_answers(form),
                                           callback_phone=form.callback_phone.data, why=why)
    session.pop(HANDOFF_SESSION_KEY, None)
    flash(_("Care request %(id)s went to triage (%(why)s); the clinic will call back.", id=care_request.id,
            why=triage_reason_text(why).lower()))
    return redirect(url_for(".index"))


def _after_visit_form(patient, form, slot_error: str | None = None):
    why = services.triage_reason(current_user.partner, patient, form.reason.data, date.today())
    if why:
        return _to_triage(patient, form, why)
    slots = services.free_slots(form.service_id.data, form.available_from.data)
    if not slots:
        return _to_triage(patient, form, NO_FREE_SLOT)
    audit.record_read("care_request.slots", patient_id=patient.id)
    return render_template("care_requests/slots.html", form=form, patient=patient, slots=slots,
                           zones=scheduling.zones_of_schedules(slot.schedule_id for slot in slots),
                           slot_form=SlotForm(formdata=None), slot_error=slot_error), 409 if slot_error else 200


@bp.post("/schedule/book")
@requires("care_request.schedule")
def book():
    patient = _handoff_patient()
    form = _visit_form()
    slot_form = SlotForm()
    if not form.validate_on_submit() or not slot_form.validate():
        audit.record_read("care_request.visit_form", patient_id=patient.id)
        return render_template("care_requests/visit.html", form=form, patient=patient), 422
    if services.triage_reason(current_user.partner, patient, form.reason.data, date.today()):
        return _after_visit_form(patient, form)
    try:
        care_request = services.self_schedule(current_user, patient.id, slot_id=slot_form.slot_id.data,
                                              reason=form.reason.data, answers=_answers(form),
                                              callback_phone=form.callback_phone.data)
    except scheduling.SchedulingError:
        return _after_visit_form(patient, form, slot_error=_("That slot was just taken. Choose another."))
    session.pop(HANDOFF_SESSION_KEY, None)
    flash(_("Care request %(id)s is scheduled.", id=care_request.id))
    return redirect(url_for(".index"))


@bp.post("/schedule/cancel")
@requires("care_request.schedule")
def cancel():
    if not EmptyForm().validate_on_submit():
        abort(400)
    session.pop(HANDOFF_SESSION_KEY, None)
    flash(_("Nothing was created."))
    return redirect(url_for(".index"))
