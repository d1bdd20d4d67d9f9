"""Staff pages: the doctors' queue (which secretaries work too) and the consultation page.

The patient's pages, the direct flow and the JSON API are child blueprints of this one
(endpoints consultations.patient.*, consultations.direct.*, consultations.api.*)."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from portal import live, sqlite_writer
from portal.consultations import api_views, direct_views, events, icpc2, patient_views, results, services
from portal.consultations.chat_views import chat_news, post_chat
from portal.consultations.forms import ActionForm, AssignForm, CancelForm, ChatForm, ReportForm
from portal.consultations.models import CATEGORY_LABELS, CHANNEL_LABELS, SOURCE_LABELS
from portal.extensions import limiter
from portal.i18n.formatting import durations
from portal.i18n.languages import labels_in_language
from portal.pages import htmx_wants, page_or_block, url_per_id
from portal.security import audit
from portal.security.auth import background
from portal.security.policy import PatientRelation, authorize_found, can, requires, rule_for_rows

bp = Blueprint("consultations", __name__)
for child in (patient_views.bp, direct_views.bp, api_views.bp):
    bp.register_blueprint(child)

QUEUE_TEMPLATE = "consultations/queue.html"
DETAIL_TEMPLATE = "consultations/detail.html"


@bp.app_template_filter()
def channel_label(channel: str) -> str:
    return str(CHANNEL_LABELS.get(channel, channel))


@bp.app_template_filter()
def category_label(category: str) -> str:
    return str(CATEGORY_LABELS.get(category, category))


@bp.app_template_filter()
def source_label(source: str) -> str:
    return str(SOURCE_LABELS.get(source, source))


def _queue_context():
    view = request.args.get("view", "all")
    page = request.args.get("page", 1, type=int) or 1
    version = live.version(services.QUEUE_TOPIC)
    queue = services.doctor_queue(view=view, doctor_id=current_user.id, page=page,
                                  per_page=current_app.config["CONSULTATION_PAGE_SIZE"])
    audit.record_read("consultation.queue_viewed", consultation_ids=[c.id for c in queue.consultations])
    user = current_user._get_current_object()
    # Secretaries work the same list: the forms to assign or cancel sit in a panel beside it.
    desk = can(user, "consultation.assign")
    return {"queue": queue, "version": version, "desk": desk, "rows": _queue_rows(queue.consultations, user, desk)}


def _queue_rows(consultations, user, desk: bool) -> list[tuple]:
    """Each row's cells, worked out once in Python: (id, created ISO, waiting, urgent, patient, code, channel,
    state, doctor, action, url), action "pick", "handle" (the desk's panel), "open" or None. The template
    unpacks the tuples: no attribute lookups, filter or function calls per row. The policy's answers are
    bound once per page (same user, same kind of row); the words are looked up once per page (the
    channels' once per catalog)."""
    may_pick, may_view = rule_for_rows(user, "consultation.pick"), rule_for_rows(user, "consultation.view")
    pick_url = url_per_id("consultations.pick", "consultation_id")
    detail_url = url_per_id("consultations.detail", "consultation_id")
    channels = labels_in_language(CHANNEL_LABELS)
    states: dict[str, str] = {}
    waited = durations()
    rows = []
    for c in consultations:
        if c.state == "ready_for_pickup" and may_pick(c):
            action, url = "pick", pick_url(c.id)
        elif may_view(c):
            action, url = ("handle" if desk and c.state in ("ready_for_pickup", "pending_sp")
                           else "desk" if desk else "open"), detail_url(c.id)
        else:
            action, url = None, None
        state = states.get(c.state)
        if state is None:
            state = states[c.state] = str(c.state_label)
        rows.append((c.id, c.created_at.isoformat(), waited(c.waiting_time), bool(c.urgent),
                     c.patient_name, c.code, channels.get(c.primary_channel, c.primary_channel), state,
                     c.doctor_name or "—", action, url))
    return rows


@bp.get("/consultations")
@live.follows(services.QUEUE_TOPIC)
@sqlite_writer.audited_page
@requires("consultation.queue")
def queue():
    context = _queue_context()
    return page_or_block(QUEUE_TEMPLATE, "consultation_list", target="consultation-list", **context)


@bp.get("/consultations/poll")
@live.follows(services.QUEUE_TOPIC)
@sqlite_writer.audited_page
@requires("consultation.queue")
@limiter.exempt
@background
def queue_poll():
    """204 while nothing changed; the fresh list as soon as something did."""
    if request.args.get("since", type=int) == live.version(services.QUEUE_TOPIC):
        return "", 204
    return render_block(QUEUE_TEMPLATE, "consultation_list", **_queue_context())


def _load(consultation_id: int, action: str, *, with_patient: bool = True):
    return authorize_found(action, services.get_consultation(consultation_id, with_patient=with_patient))


def _load_for_chat(consultation_id: int):
    return authorize_found("consultation.conduct", services.chat_consultation(consultation_id))


def _detail_context(consultation, **forms):
    user = current_user._get_current_object()
    doctor_here = can(user, "consultation.conduct", consultation)
    result = results.result_of(consultation)
    report = None
    if result is not None and can(current_user, "consultation_result.read", result):
        report = results.read_report(result, actor=("staff", str(current_user.id)),
                                     patient_id=consultation.patient_id)
    assign_form = forms.get("assign_form") or AssignForm(formdata=None)
    assign_form.expected_doctor_id.data = str(consultation.service_provider_id or "")
    assign_form.doctor_id.choices = [(d.id, d.name) for d in services.active_doctors()]
    return {
        "consultation": consultation,
        "doctor_here": doctor_here,
        "may_pick": can(current_user, "consultation.pick", consultation) and consultation.state == "ready_for_pickup",
        "may_assign": can(current_user, "consultation.assign", consultation) and consultation.state in (
            "ready_for_pickup", "pending_sp"),
        "may_cancel": can(current_user, "consultation.cancel", consultation) and consultation.is_cancellable,
        "chat_token": services.chat_token(consultation, for_doctor=True) if doctor_here else None,
        "messages": services.chat_messages(consultation) if doctor_here else [],
        "chat_version": live.version(services.chat_topic(consultation.id)),
        "video_room": services.video_room_of(consultation),
        "video_key": services.video_key(consultation, for_doctor=True) if doctor_here else None,
        "result": result,
        "report": report,
        "icpc2_codes": icpc2.everyday_codes(),
        "action_form": ActionForm(formdata=None),
        "assign_form": assign_form,
        "cancel_form": forms.get("cancel_form") or CancelForm(formdata=None),
        "chat_form": forms.get("chat_form") or ChatForm(formdata=None),
        "report_form": forms.get("report_form") or ReportForm(formdata=None),
        "message": forms.get("message"),
        # Parts of the page other packages own (consultations.events.consultation_page).
        "parts": [part for _receiver, part in events.consultation_page.send(consultation, viewer=user) if part],
        "may_open_record": can(user, "patient_record.view", PatientRelation.of_consultation(consultation)),
    }


def _render_detail(consultation, status: int = 200, **forms):
    context = _detail_context(consultation, **forms)
    return page_or_block(DETAIL_TEMPLATE, "consultation_panel", target="consultation-panel", **context), status


@bp.get("/consultations/<int:consultation_id>")
@sqlite_writer.audited_page
@requires("consultation.view")
def detail(consultation_id: int):
    consultation = _load(consultation_id, "consultation.view")
    audit.record_read("consultation.viewed", subject=consultation, patient_id=consultation.patient_id)
    return _render_detail(consultation)


def _after(consultation, message: str):
    if htmx_wants():
        return _render_detail(services.get_consultation(consultation.id), message=message)
    flash(message)
    return redirect(url_for("consultations.detail", consultation_id=consultation.id))


def _conflict(consultation, exc: Exception):
    fresh = services.get_consultation(consultation.id)
    if not can(current_user, "consultation.view", fresh):
        # Someone else picked it: the doctor may no longer see it, so answer with the message alone.
        return render_template("consultations/conflict.html", message=str(exc)), 409
    return _render_detail(fresh, 409, message=str(exc))


def _valid_action() -> bool:
    return ActionForm().validate_on_submit()


@bp.post("/consultations/<int:consultation_id>/pick")
@requires("consultation.pick")
def pick(consultation_id: int):
    consultation = _load(consultation_id, "consultation.pick")
    if not _valid_action():
        abort(400)
    try:
        services.pick_consultation(consultation, doctor_id=current_user.id)
    except services.NotAllowedNow as exc:
        return _conflict(consultation, exc)
    return _after(consultation, _("Consultation %(code)s is yours. Start it when you are ready.",
                                  code=consultation.code))


@bp.post("/consultations/<int:consultation_id>/assign")
@requires("consultation.assign")
def assign(consultation_id: int):
    consultation = _load(consultation_id, "consultation.assign")
    form = AssignForm()
    form.doctor_id.choices = [(d.id, d.name) for d in services.active_doctors()]
    if not form.validate_on_submit():
        return _render_detail(consultation, 422, assign_form=form)
    try:
        services.assign_consultation(consultation, doctor_id=form.doctor_id.data, by_id=current_user.id,
                                     expected_doctor_id=form.expected_doctor())
    except services.InvalidConsultation as exc:
        form.doctor_id.errors.append(str(exc))
        return _render_detail(consultation, 422, assign_form=form)
    except services.NotAllowedNow as exc:
        return _conflict(consultation, exc)
    return _after(consultation, _("Doctor assigned."))


@bp.post("/consultations/<int:consultation_id>/start")
@requires("consultation.conduct")
def start(consultation_id: int):
    consultation = _load(consultation_id, "consultation.conduct")
    if not _valid_action():
        abort(400)
    try:
        services.start_consultation(consultation, doctor_id=current_user.id)
    except services.NotAllowedNow as exc:
        return _conflict(consultation, exc)
    except services.ServiceUnavailable:
        return _render_detail(consultation, 503, message=_("The chat or video service did not answer, so the "
                                                           "consultation was not started. Try again in a moment."))
    return _after(consultation, _("Consultation started. The patient has been sent a link."))


@bp.post("/consultations/<int:consultation_id>/finish")
@requires("consultation.conduct")
def finish(consultation_id: int):
    consultation = _load(consultation_id, "consultation.conduct")
    if not _valid_action():
        abort(400)
    try:
        services.finish_consultation(consultation, doctor_id=current_user.id)
    except services.NotAllowedNow as exc:
        return _conflict(consultation, exc)
    return _after(consultation, _("Consultation finished. Please file the report."))


@bp.post("/consultations/<int:consultation_id>/cancel")
@requires("consultation.cancel")
def cancel(consultation_id: int):
    consultation = _load(consultation_id, "consultation.cancel")
    form = CancelForm()
    if not form.validate_on_submit():
        return _render_detail(consultation, 422, cancel_form=form)
    try:
        services.cancel_consultation(consultation, reason=form.reason_text(), by_id=current_user.id)
    except services.NotAllowedNow as exc:
        return _conflict(consultation, exc)
    return _after(consultation, _("Consultation cancelled. The patient is being told."))


@bp.post("/consultations/<int:consultation_id>/report")
@requires("consultation.conduct")
def report(consultation_id: int):
    consultation = _load(consultation_id, "consultation.conduct")
    form = ReportForm()
    if not form.validate_on_submit():
        return _render_detail(consultation, 422, report_form=form)
    report_in = results.ReportIn(
        icpc2_code=form.icpc2_code.data, outcome=form.outcome.data,
        patient_national_id=form.patient_national_id.data, job_description=form.job_description.data,
        policy_number=form.policy_number.data, notes=form.notes.data,
    )
    errors = results.validate_report(report_in)
    if errors:
        for name, error in errors.items():
            getattr(form, name).errors.append(error)
        return _render_detail(consultation, 422, report_form=form)
    try:
        results.file_report(consultation, report_in, author_id=current_user.id)
    except services.NotAllowedNow as exc:
        return _conflict(consultation, exc)
    return _after(consultation, _("Report filed."))


@bp.get("/consultations/icpc2")
@requires("consultation.conduct")
def icpc2_search():
    """Options for the report form's code picker, narrowed as the doctor types."""
    matches = icpc2.search(request.args.get("icpc2_code", request.args.get("q", ""))[:100], limit=50)
    return render_template("consultations/_icpc2_options.html", matches=matches)


@bp.get("/consultations/<int:consultation_id>/chat")
@sqlite_writer.audited_page
@requires("consultation.conduct")
@limiter.exempt
@background
def chat_poll(consultation_id: int):
    consultation = _load_for_chat(consultation_id)
    version = live.version(services.chat_topic(consultation.id))
    if request.args.get("since", type=int) == version:
        return "", 204
    return chat_news(consultation, "doctor", url_for("consultations.chat_poll", consultation_id=consultation.id),
                     version)


@bp.post("/consultations/<int:consultation_id>/chat")
@requires("consultation.conduct")
def chat_post(consultation_id: int):
    consultation = _load_for_chat(consultation_id)
    return post_chat(consultation, "doctor", url_for("consultations.chat_poll", consultation_id=consultation.id),
                     url_for("consultations.detail", consultation_id=consultation.id))
