"""The referral webhook and the secretary's screening queue."""

import time

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from portal import live
from portal.errors import problem
from portal.extensions import csrf, limiter
from portal.fhir.consumer import remote_bookings
from portal.referrals import intake, services
from portal.referrals.forms import CallAttemptForm, ConsultationForm, DeclineForm
from portal.security import audit
from portal.security.auth import background
from portal.security.policy import authorize, requires

api_bp = Blueprint("referrals_api", __name__, url_prefix="/api")
bp = Blueprint("referrals", __name__)

QUEUE_TEMPLATE = "referrals/queue.html"
DETAIL_TEMPLATE = "referrals/detail.html"


@api_bp.post("/referrals")
@csrf.exempt
@limiter.exempt
def receive():
    """Webhook from the referral system; authenticated by an HMAC signature, not a session."""
    if (request.content_length or 0) > intake.MAX_BODY_BYTES:
        return problem(413, "Payload too large", f"A referral may be at most {intake.MAX_BODY_BYTES} bytes.")
    body = request.get_data(cache=False)
    if len(body) > intake.MAX_BODY_BYTES:
        return problem(413, "Payload too large", f"A referral may be at most {intake.MAX_BODY_BYTES} bytes.")
    why = intake.signature_problem(
        current_app.config["REFERRAL_WEBHOOK_SECRET"], request.headers.get("X-Referral-Timestamp"),
        request.headers.get("X-Referral-Signature"), body, time.time(),
        current_app.config["REFERRAL_MAX_SKEW_SECONDS"],
    )
    if why:
        return problem(401, "Signature not accepted", why)
    try:
        incoming = intake.parse_referral(body)
    except intake.InvalidReferral as exc:
        return problem(400 if exc.unreadable else 422, "Referral not accepted",
                       "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in exc.errors), errors=exc.errors)
    try:
        referral, created = services.receive_referral(incoming)
    except services.ReferralConflict as exc:
        return problem(409, "Conflicting referral",
                       "A referral with this JournalGuid was already received with different content.",
                       referral_id=exc.referral_id)
    return {"referral_id": referral.id}, 201 if created else 200


def _queue_context():
    # The search term is read from the POSTed form only: patient names stay out of URLs and logs.
    search = request.form.get("q", "")[:100]
    page = request.values.get("page", 1, type=int) or 1
    version = live.version(services.QUEUE_TOPIC)
    queue = services.screening_queue(search, page, current_app.config["QUEUE_PAGE_SIZE"])
    audit.record_read("referral.queue_viewed", referral_ids=[r.id for r in queue.referrals])
    return {"queue": queue, "search": search, "version": version}


@bp.route("/queue", methods=["GET", "POST"])
@requires("referral.screen")
def queue():
    context = _queue_context()
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "queue-list":
        return render_block(QUEUE_TEMPLATE, "queue_list", **context)
    return render_template(QUEUE_TEMPLATE, **context)


@bp.post("/queue/poll")
@requires("referral.screen")
@limiter.exempt
@background
def queue_poll():
    """Answers 204 while nothing changed; the fresh list as soon as something did."""
    if request.args.get("since", type=int) == live.version(services.QUEUE_TOPIC):
        return "", 204
    return render_block(QUEUE_TEMPLATE, "queue_list", **_queue_context())


def _load(referral_id: int, action: str):
    referral = services.get_referral(referral_id)
    if referral is None:
        abort(404)
    authorize(action, referral)
    return referral


def _render_detail(referral, status: int = 200, message: str | None = None, **forms):
    context = {
        "referral": referral,
        "call_form": forms.get("call_form") or CallAttemptForm(formdata=None),
        "consultation_form": forms.get("consultation_form") or ConsultationForm(formdata=None),
        "decline_form": forms.get("decline_form") or DeclineForm(formdata=None),
        "message": message,
        # Bookings made at another service for this referral: the outcome shows where it was booked from.
        "remote_bookings": remote_bookings(referral_id=referral.id),
    }
    if request.headers.get("HX-Request"):
        return render_block(DETAIL_TEMPLATE, "referral_panel", **context), status
    return render_template(DETAIL_TEMPLATE, **context), status


@bp.get("/referrals/<int:referral_id>")
@requires("referral.view")
def detail(referral_id: int):
    referral = _load(referral_id, "referral.view")
    audit.record_read("referral.viewed", subject=referral, patient_id=referral.patient_id)
    return _render_detail(referral)


def _after_action(referral, message: str):
    if request.headers.get("HX-Request"):
        return _render_detail(referral, message=message)
    flash(message)
    return redirect(url_for("referrals.detail", referral_id=referral.id))


def _already_handled(referral_id: int):
    referral = services.get_referral(referral_id)
    return _render_detail(referral, 409, message="Already handled: another secretary acted on this referral first.")


@bp.post("/referrals/<int:referral_id>/calls")
@requires("referral.screen")
def log_call(referral_id: int):
    referral = _load(referral_id, "referral.screen")
    form = CallAttemptForm()
    if not form.validate_on_submit():
        return _render_detail(referral, 422, call_form=form)
    try:
        attempt = services.log_call_attempt(referral, outcome=form.outcome.data, note=form.note.data,
                                            by_id=current_user.id)
    except services.AlreadyHandled:
        return _already_handled(referral_id)
    return _after_action(referral, f"Call logged: {attempt.outcome_label}.")


@bp.post("/referrals/<int:referral_id>/consultation")
@requires("referral.screen")
def create_consultation(referral_id: int):
    referral = _load(referral_id, "referral.screen")
    form = ConsultationForm()
    if not form.validate_on_submit():
        return _render_detail(referral, 422, consultation_form=form)
    try:
        consultation = services.convert_to_consultation(
            referral, enabled_channels=form.enabled_channels.data, primary_channel=form.primary_channel.data,
            category=form.category.data, options=form.options(), by_id=current_user.id,
        )
    except services.AlreadyHandled:
        return _already_handled(referral_id)
    except services.InvalidAction as exc:
        form.enabled_channels.errors.append(str(exc))
        return _render_detail(referral, 422, consultation_form=form)
    return _after_action(referral, f"Consultation {consultation.code} created; it is in the doctors' queue.")


@bp.post("/referrals/<int:referral_id>/decline")
@requires("referral.screen")
def decline(referral_id: int):
    referral = _load(referral_id, "referral.screen")
    form = DeclineForm()
    if not form.validate_on_submit():
        return _render_detail(referral, 422, decline_form=form)
    try:
        services.decline_referral(referral, reason=form.reason_text(), by_id=current_user.id)
    except services.AlreadyHandled:
        return _already_handled(referral_id)
    return _after_action(referral, "Referral declined.")
