"""Partner pages, the handoff to self-scheduling, and the secretaries' triage queue.

Thin: parse input, ask policy (which also gives the partner every query is filtered by),
call a service, render. Patient data never goes into a URL: searches are POSTed and the
handoff carries an opaque token.
"""

import json
import time as time_module
from datetime import date, datetime, time, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from portal import live
from portal.extensions import db, limiter
from portal.fhir.consumer import remote_bookings
from portal.partners import services
from portal.partners.forms import (EmptyForm, InviteForm, PatientForm, ProfileForm, RoleForm, SearchForm, SlotForm,
                                   VisitForm)
from portal.partners.models import Partner  # noqa: F401  (tables known to the app and to Alembic)
from portal.partners.sign_in import SignInFailed, client_for, identity_claims, refresh_provider, remember_tenant
from portal.scheduling import services as scheduling
from portal.scheduling.models import HealthcareService
from portal.security import audit
from portal.security.auth import background
from portal.security.policy import authorize, can, partner_scope, requires

bp = Blueprint("partners", __name__)
triage_bp = Blueprint("triage", __name__)

HANDOFF_SESSION_KEY = "handoff"
SLOTS_SHOWN = 20


def _sign_in_failed(message: str, status: int = 400):
    return render_template("partners/message.html", title=_("Sign-in did not complete"), message=message), status


def _provider_down(tenant: str, step: str):
    current_app.logger.warning("partner sign-in: provider of tenant %s did not answer (%s)", tenant, step)
    return _sign_in_failed(_("Your organisation's sign-in service did not answer. Try again in a minute."), 502)


# --- sign-in ---------------------------------------------------------------------------------------

@bp.get("/p/<tenant>/login")
@limiter.limit("30 per minute")
def login(tenant):
    partner = services.partner_by_tenant(tenant)
    if partner is None:
        abort(404)
    if request.args.get("signed_out"):
        # A page, not a redirect to the provider: its own session may still be alive and would sign
        # the person straight back in, undoing a sign-out or an idle timeout.
        return render_template("partners/sign_in.html", partner=partner)
    try:
        client = client_for(partner)
        refresh_provider(client)
        return client.authorize_redirect(url_for("partners.callback", tenant=tenant, _external=True))
    except SignInFailed:
        return _provider_down(tenant, "discovery")


@bp.get("/p/<tenant>/callback")
@limiter.limit("30 per minute")
def callback(tenant):
    partner = services.partner_by_tenant(tenant)
    if partner is None:
        abort(404)
    client = client_for(partner)
    try:
        token = client.authorize_access_token()
        claims = identity_claims(client, token)
    except OSError:
        return _provider_down(tenant, "token or userinfo")
    except SignInFailed as error:
        # The kind of error and the OAuth error code only: descriptions may quote the request.
        current_app.logger.warning("partner sign-in refused: tenant=%s reason=%s %s", tenant, type(error).__name__,
                                   getattr(error, "error", ""))
        return _sign_in_failed(_("The sign-in could not be checked. Please start again."))
    user = services.user_for_sign_in(partner, issuer=claims.get("iss", ""), subject=claims.get("sub", ""),
                                     email=claims.get("email") if claims.get("email_verified", True) else None)
    if user is None:
        return _sign_in_failed(_("This account has no access to the portal for this organisation."), 403)
    session.clear()
    login_user(user)
    session.permanent = True
    session["last_active"] = time_module.time()
    return remember_tenant(redirect(url_for("partners.care_requests")), tenant)


@bp.get("/partner/sign-in")
def where_to_sign_in():
    """For a signed-out partner page whose organisation this browser does not know."""
    return render_template("partners/where_to_sign_in.html")


@bp.post("/partner/logout")
def logout():
    tenant = getattr(getattr(current_user, "partner", None), "tenant", None)
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("partners.login", tenant=tenant, signed_out=1) if tenant
                    else url_for("partners.where_to_sign_in"))


# --- care requests ---------------------------------------------------------------------------------

LIST_TEMPLATE = "partners/care_requests.html"


def _list_context(partner_id: int) -> dict:
    tab = "past" if request.args.get("tab") == "past" else "current"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    # Read before the list: a change committed during the render shows at the next poll.
    version = live.version(services.live_topic(partner_id))
    rows, has_next = services.list_care_requests(partner_id, tab=tab, page=page)
    audit.record_read("care_request.list", partner_id=partner_id, tab=tab, page=page,
                      care_request_ids=[r.id for r in rows])
    return {"rows": rows, "tab": tab, "page": page, "has_next": has_next, "version": version}


@bp.get("/partner/care-requests")
@requires("care_request.list")
def care_requests():
    return render_template(LIST_TEMPLATE, **_list_context(partner_scope(current_user)))


@bp.get("/partner/care-requests/poll")
@requires("care_request.list")
@limiter.exempt
@background
def care_requests_poll():
    """204 while this partner's care requests are unchanged; the fresh list once a status changed."""
    partner_id = partner_scope(current_user)
    if request.args.get("since", type=int) == live.version(services.live_topic(partner_id)):
        return "", 204
    return render_block(LIST_TEMPLATE, "care_request_list", **_list_context(partner_id))


@bp.get("/partner/care-requests/<int(max=2147483647):care_request_id>")
@requires("care_request.view")
def care_request(care_request_id):
    care_request = services.get_care_request(partner_scope(current_user), care_request_id)
    if care_request is None:
        abort(404)
    authorize("care_request.view", care_request)
    answers = json.loads(care_request.answers or "{}")
    audit.record_read("care_request.view", subject=care_request, patient_id=care_request.patient_id,
                      care_request_id=care_request.id)
    return render_template("partners/care_request.html", care_request=care_request, answers=answers)


# --- patients and the handoff ----------------------------------------------------------------------

@bp.get("/partner/care-requests/new")
@requires("partner_patient.search")
def new_care_request():
    return render_template("partners/new.html", search=SearchForm(formdata=None), form=PatientForm(formdata=None),
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
    if request.headers.get("HX-Request"):
        return render_block("partners/new.html", "results", **context)
    return render_template("partners/new.html", **context)


@bp.post("/partner/patients")
@requires("partner_patient.create")
def create_patient():
    partner_id = partner_scope(current_user)
    form = PatientForm()
    if not form.validate_on_submit():
        return render_template("partners/new.html", search=SearchForm(formdata=None), form=form, patients=None,
                               schedule_form=EmptyForm()), 422
    patient = services.create_partner_patient(partner_id, first_name=form.first_name.data,
                                              last_name=form.last_name.data, birth_date=form.birth_date.data,
                                              phone=form.phone.data)
    return _hand_off(partner_id, patient.id)


@bp.post("/partner/patients/<int(max=2147483647):patient_id>/schedule")
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
    return redirect(url_for("partners.redeem", token=token))


@bp.get("/schedule/<token>")
@requires("care_request.schedule")
def redeem(token):
    prefill = services.redeem_handoff(token, partner_id=partner_scope(current_user), user_id=current_user.id)
    if prefill is None:
        return render_template("partners/message.html", title="This link has expired",
                               message="The scheduling link is no longer valid (it works once, for ten minutes). "
                                       "Start again from the care requests."), 410
    # Only ids go into the (signed, readable) session cookie: no patient data.
    session[HANDOFF_SESSION_KEY] = {"patient_id": prefill["patient_id"], "partner_id": prefill["partner_id"]}
    return redirect(url_for("partners.visit"))


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


def _service_choices():
    services_ = db.session.scalars(select(HealthcareService).where(HealthcareService.active.is_(True))
                                   .order_by(HealthcareService.name))
    return [(s.id, s.name) for s in services_]


def _visit_form():
    form = VisitForm()
    form.service_id.choices = _service_choices()
    if request.method == "GET":
        form.service_id.data = current_user.default_service_id
        form.available_from.data = date.today()
    return form


@bp.route("/schedule", methods=["GET", "POST"])
@requires("care_request.schedule")
def visit():
    patient = _handoff_patient()
    form = _visit_form()
    if request.method == "GET" or not form.validate_on_submit():
        audit.record_read("care_request.visit_form", patient_id=patient.id)
        return render_template("partners/visit.html", form=form, patient=patient), (
            422 if request.method == "POST" else 200)
    return _after_visit_form(patient, form)


def _answers(form) -> dict:
    return {"address": form.address.data, "available_from": form.available_from.data.isoformat()}


def _to_triage(patient, form, why: str):
    care_request = services.send_to_triage(current_user, patient.id, service_id=form.service_id.data,
                                           reason=form.reason.data, answers=_answers(form),
                                           callback_phone=form.callback_phone.data, why=why)
    session.pop(HANDOFF_SESSION_KEY, None)
    flash(f"Care request {care_request.id} went to triage ({why.lower()}); the clinic will call back.")
    return redirect(url_for("partners.care_requests"))


def _free_slots(service_id: int, available_from: date) -> list:
    start = max(datetime.combine(available_from, time.min), datetime.utcnow() + timedelta(minutes=5))
    return scheduling.search_slots(service_id, start_from=start, start_to=start + timedelta(days=14),
                                   limit=SLOTS_SHOWN)


def _after_visit_form(patient, form, slot_error: str | None = None):
    why = services.triage_reason(current_user.partner, patient, form.reason.data, date.today())
    if why:
        return _to_triage(patient, form, why)
    slots = _free_slots(form.service_id.data, form.available_from.data)
    if not slots:
        return _to_triage(patient, form, "No free slot")
    audit.record_read("care_request.slots", patient_id=patient.id)
    return render_template("partners/slots.html", form=form, patient=patient, slots=slots,
                           slot_form=SlotForm(formdata=None), slot_error=slot_error), 409 if slot_error else 200


@bp.post("/schedule/book")
@requires("care_request.schedule")
def book():
    patient = _handoff_patient()
    form = _visit_form()
    slot_form = SlotForm()
    if not form.validate_on_submit() or not slot_form.validate():
        audit.record_read("care_request.visit_form", patient_id=patient.id)
        return render_template("partners/visit.html", form=form, patient=patient), 422
    if services.triage_reason(current_user.partner, patient, form.reason.data, date.today()):
        return _after_visit_form(patient, form)
    try:
        care_request = services.self_schedule(current_user, patient.id, slot_id=slot_form.slot_id.data,
                                              reason=form.reason.data, answers=_answers(form),
                                              callback_phone=form.callback_phone.data)
    except scheduling.SchedulingError:
        return _after_visit_form(patient, form, slot_error="That slot was just taken. Choose another.")
    session.pop(HANDOFF_SESSION_KEY, None)
    flash(f"Care request {care_request.id} is scheduled.")
    return redirect(url_for("partners.care_requests"))


@bp.post("/schedule/cancel")
@requires("care_request.schedule")
def cancel():
    if not EmptyForm().validate_on_submit():
        abort(400)
    session.pop(HANDOFF_SESSION_KEY, None)
    flash("Nothing was created.")
    return redirect(url_for("partners.care_requests"))


# --- users and profile -----------------------------------------------------------------------------

@bp.route("/partner/users", methods=["GET", "POST"])
@requires("partner_user.manage")
def users():
    partner_id = partner_scope(current_user)
    form = InviteForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.invite_user(partner_id, email=form.email.data, role=form.role.data)
            flash("Invitation saved: they can sign in with their organisation account.")
            return redirect(url_for("partners.users"))
        except services.InvalidInput as error:
            form.email.errors.append(str(error))
    if request.method == "POST":
        status = 422
    return render_template("partners/users.html", form=form, users=services.list_users(partner_id),
                           role_form=RoleForm(formdata=None), empty=EmptyForm()), status


def _managed_user(user_id: int):
    user = services.get_user(partner_scope(current_user), user_id)
    if user is None:
        abort(404)
    authorize("partner_user.manage", user)
    return user


@bp.post("/partner/users/<int(max=2147483647):user_id>/role")
@requires("partner_user.manage")
def change_role(user_id):
    user = _managed_user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.change_role(user.partner_id, user.id, form.role.data)
    except services.LastAdmin as refusal:
        flash(str(refusal))
        return redirect(url_for("partners.users"))
    flash("Role changed.")
    return redirect(url_for("partners.users"))


@bp.post("/partner/users/<int(max=2147483647):user_id>/deactivate")
@requires("partner_user.manage")
def deactivate(user_id):
    user = _managed_user(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if user.id == current_user.id:
        flash("You cannot deactivate yourself.")
        return redirect(url_for("partners.users"))
    try:
        services.deactivate_user(user.partner_id, user.id)
    except services.LastAdmin as refusal:
        flash(str(refusal))
        return redirect(url_for("partners.users"))
    flash("User deactivated.")
    return redirect(url_for("partners.users"))


@bp.route("/partner/profile", methods=["GET", "POST"])
@requires("partner.profile")
def profile():
    partner_scope(current_user)
    form = ProfileForm(obj=current_user if request.method == "GET" else None)
    form.default_service_id.choices = [(0, "None")] + _service_choices()
    if form.validate_on_submit():
        services.update_profile(current_user, name=form.name.data, notification_email=form.notification_email.data,
                                default_service_id=form.default_service_id.data or None)
        flash("Profile saved.")
        return redirect(url_for("partners.profile"))
    # A partner admin sees (not edits) the settings that shape their users' work; staff admins edit them.
    partner = current_user.partner if can(current_user, "partner.settings.view") else None
    return render_template("partners/profile.html", form=form, partner=partner), (
        422 if request.method == "POST" else 200)


# --- the secretaries' triage queue -----------------------------------------------------------------

@triage_bp.get("/triage")
@requires("triage.handle")
def queue():
    requests_ = services.triage_queue()
    audit.record_read("triage.queue", care_request_ids=[c.id for c in requests_])
    return render_template("partners/triage.html", care_requests=requests_)


@triage_bp.get("/triage/<int(max=2147483647):care_request_id>")
@requires("triage.handle")
def triage_detail(care_request_id):
    care_request = services.get_triage_request(care_request_id)
    if care_request is None:
        abort(404)
    answers = json.loads(care_request.answers or "{}")
    slots = []
    if care_request.healthcare_service_id:
        # From the day the patient is available (what the partner entered), never before today.
        try:
            available_from = max(date.fromisoformat(answers.get("available_from", "")), date.today())
        except (TypeError, ValueError):
            available_from = date.today()
        slots = _free_slots(care_request.healthcare_service_id, available_from)
    audit.record_read("triage.view", subject=care_request, patient_id=care_request.patient_id,
                      care_request_id=care_request.id)
    return render_template("partners/triage_detail.html", care_request=care_request, slots=slots, answers=answers,
                           empty=EmptyForm(), remote_bookings=remote_bookings(care_request_id=care_request.id))


@triage_bp.post("/triage/<int(max=2147483647):care_request_id>/book")
@requires("triage.handle")
def triage_book(care_request_id):
    form = SlotForm()
    if not form.validate_on_submit():
        flash("Choose a slot.")
        return redirect(url_for("triage.triage_detail", care_request_id=care_request_id))
    try:
        services.book_from_triage(care_request_id, form.slot_id.data, staff_id=current_user.id)
    except services.NotFound:
        abort(404)
    except services.AlreadyHandled:
        flash("Someone else handled this care request already.")
        return redirect(url_for("triage.queue"))
    except scheduling.SchedulingError:
        flash("That slot cannot be booked any more. Choose another.")
        return redirect(url_for("triage.triage_detail", care_request_id=care_request_id))
    flash("Booked.")
    return redirect(url_for("triage.queue"))


@triage_bp.post("/triage/<int(max=2147483647):care_request_id>/decline")
@requires("triage.handle")
def triage_decline(care_request_id):
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.decline_from_triage(care_request_id, staff_id=current_user.id)
    except services.NotFound:
        abort(404)
    except services.AlreadyHandled:
        flash("Someone else handled this care request already.")
        return redirect(url_for("triage.queue"))
    flash("Declined.")
    return redirect(url_for("triage.queue"))
