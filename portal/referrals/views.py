"""The secretary's screening queue and a referral's panel. The referral system's webhook is the
child blueprint in api_views.py (endpoints referrals.api.*)."""


from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from portal import live, sqlite_writer
from portal.extensions import limiter
from portal.i18n.formatting import ages
from portal.pages import htmx_wants, page_or_block, url_per_id
from portal.referrals import api_views, services
from portal.referrals.forms import CallAttemptForm, ConsultationForm, DeclineForm, DuplicateForm, SentDetailForm
from portal.referrals.models import STATUS_LABELS
from portal.security import audit
from portal.security.auth import background
from portal.security.policy import authorize, may_open_records_by_id, requires

bp = Blueprint("referrals", __name__)
bp.register_blueprint(api_views.bp)

QUEUE_TEMPLATE = "referrals/queue.html"
DETAIL_TEMPLATE = "referrals/detail.html"


@bp.app_template_global()
def referral_status(status: str) -> str:
    """A referral's status in the reader's language (the patient record lists referrals too)."""
    return str(STATUS_LABELS.get(status, status))


def _queue_context():
    # The search term is read from the POSTed form only: patient names stay out of URLs and logs.
    search = request.form.get("q", "")[:100]
    page = request.values.get("page", 1, type=int) or 1
    version = live.version(services.QUEUE_TOPIC)
    queue = services.screening_queue(search, page, current_app.config["QUEUE_PAGE_SIZE"])
    # Other referrals waiting for the same patient are flagged on each row, with links to them (read only
    # when the page has such a row: most have none).
    open_by_patient = services.open_referrals_by_patient(
        [r.patient_id for r in queue.referrals if r.open_for_patient > 1])
    audit.record_read("referral.queue_viewed", referral_ids=[r.id for r in queue.referrals])
    others = {r.id: [o for o in open_by_patient[r.patient_id] if o.id != r.id] for r in queue.referrals}
    detail_url = url_per_id("referrals.detail", "referral_id")
    return {"queue": queue, "search": search, "version": version, "others": others, "detail_url": detail_url,
            "rows": _queue_rows(queue.referrals, detail_url)}


def _queue_rows(referrals, detail_url) -> list[tuple]:
    """Each row's cells, worked out once in Python: (id, received ISO, waited, patient, record URL or None,
    phone, phone needs a check, calls, screen URL). The template unpacks the tuples: no attribute lookups,
    filter or function calls per row. The name links to the patient's record when this viewer may open
    records by id (the policy's answer, once per list: the same as templates' `patient_record_urls()`)."""
    record_url = (url_per_id("patient_record.record", "patient_id")
                  if may_open_records_by_id(current_user._get_current_object()) else None)
    waited = ages()
    return [(r.id, r.received_at.isoformat(), waited(r.received_at), r.patient_name,
             record_url(r.patient_id) if record_url else None, r.phone, r.phone_needs_check, r.call_attempt_count,
             detail_url(r.id)) for r in referrals]


@bp.route("/queue", methods=["GET", "POST"])
@live.follows(services.QUEUE_TOPIC)
@sqlite_writer.audited_page
@requires("referral.screen")
def queue():
    context = _queue_context()
    return page_or_block(QUEUE_TEMPLATE, "queue_list", target="queue-list", **context)


@bp.post("/queue/poll")
@live.follows(services.QUEUE_TOPIC)
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
    others = services.other_referrals(referral)
    context = {
        "referral": referral,
        "call_form": forms.get("call_form") or CallAttemptForm(formdata=None),
        "consultation_form": forms.get("consultation_form") or ConsultationForm(formdata=None),
        "decline_form": forms.get("decline_form") or DeclineForm(formdata=None),
        "duplicate_form": forms.get("duplicate_form") or DuplicateForm(formdata=None).offer(others),
        "sent_detail_form": SentDetailForm(formdata=None),
        "sent_details": services.sent_details(referral),
        "other_referrals": others,
        "message": message,
    }
    return page_or_block(DETAIL_TEMPLATE, "referral_panel", **context), status


@bp.get("/referrals/<int:referral_id>")
@sqlite_writer.audited_page
@requires("referral.view")
def detail(referral_id: int):
    referral = _load(referral_id, "referral.view")
    audit.record_read("referral.viewed", subject=referral, patient_id=referral.patient_id)
    return _render_detail(referral)


def _after_action(referral, message: str):
    if htmx_wants():
        return _render_detail(referral, message=message)
    flash(message)
    return redirect(url_for("referrals.detail", referral_id=referral.id))


def _already_handled(referral_id: int):
    referral = services.get_referral(referral_id)
    return _render_detail(referral, 409, message=_("Already handled: another secretary acted on this referral first."))


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
    return _after_action(referral, _("Call logged: %(outcome)s.", outcome=attempt.outcome_label))


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
    return _after_action(referral, _("Consultation %(code)s created; it is in the doctors' queue.",
                                     code=consultation.code))


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
    return _after_action(referral, _("Referral declined."))


@bp.post("/referrals/<int:referral_id>/sent-details")
@requires("referral.screen")
def choose_sent_detail(referral_id: int):
    """Update the patient record from one detail the referral sent, or keep the record's."""
    referral = _load(referral_id, "referral.screen")
    form = SentDetailForm()
    if not form.validate_on_submit():
        return _render_detail(referral, 422, message=_("Choose one of the buttons beside a detail."))
    field, choice = form.field_and_choice()
    try:
        services.choose_sent_detail(referral, field=field, choice=choice, by_id=current_user.id)
    except services.InvalidAction as exc:
        return _render_detail(referral, 422, message=_("Not changed: %(why)s.", why=exc))
    label = services.SENT_FIELDS[field].lower()
    done = _("The patient record now has the %(detail)s this referral sent.", detail=label) if choice == "updated" \
        else _("The patient record keeps its %(detail)s.", detail=label)
    return _after_action(referral, done)


@bp.post("/referrals/<int:referral_id>/duplicate")
@requires("referral.screen")
def mark_duplicate(referral_id: int):
    referral = _load(referral_id, "referral.screen")
    form = DuplicateForm().offer(services.other_referrals(referral))
    if not form.validate_on_submit():
        return _render_detail(referral, 422, duplicate_form=form)
    try:
        services.mark_duplicate(referral, of_id=form.duplicate_of.data, by_id=current_user.id)
    except services.AlreadyHandled:
        return _already_handled(referral_id)
    except services.InvalidAction as exc:
        form.duplicate_of.errors.append(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        return _render_detail(referral, 422, duplicate_form=form)
    return _after_action(referral, _("Marked as a duplicate of referral %(id)s; it has left the queue.",
                                     id=form.duplicate_of.data))
