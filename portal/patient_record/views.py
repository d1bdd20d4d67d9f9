"""The patient record pages (staff): /patients/<id>, its history pages, "show" the national id, earlier reports.

Every page and fragment is an audited read of patient data. Access is the policy's (patient_record.*);
a refusal is 404 for every role, so nobody learns which patient numbers exist.
"""

from flask import Blueprint, abort, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from portal import sqlite_writer
from portal.i18n.formatting import time_tag
from portal.ids import MAX_ID
from portal.notifications.models import FAILED, PENDING, SENT
from portal.pages import htmx_wants, page_or_block, url_per_id
from portal.patient_record import services
from portal.patient_record.forms import ReportReasonForm, ShowForm
from portal.security.policy import authorize, can, may_open_records_by_id, requires

bp = Blueprint("patient_record", __name__, url_prefix="/patients")

TEMPLATE = "patient_record/record.html"
REPORT_TEMPLATE = "patient_record/report.html"
NO_STORE = {"Cache-Control": "no-store"}


@bp.app_context_processor
def _record_links():
    """For any template, the record's address when the viewer may open it knowing nothing about who treats the
    patient, else None: `patient_record_url(patient_id)` for one link (the referral panel, the diary, triage),
    `patient_record_urls()` for a list (a function of the id, or None: decided once, not per row). That is
    secretaries and admins; a doctor's link needs the facts that they treat the patient, which the
    consultation page gives the policy itself. No query either way."""
    decided = []

    def patient_record_urls():
        if not decided:
            may = may_open_records_by_id(current_user)
            decided.append(url_per_id("patient_record.record", "patient_id") if may else None)
        return decided[0]

    def patient_record_url(patient_id: int) -> str | None:
        record_url = patient_record_urls()
        return record_url(patient_id) if record_url else None

    return {"patient_record_url": patient_record_url, "patient_record_urls": patient_record_urls}


def _actor():
    return "staff", str(current_user.id)


def _record(patient_id: int, action: str):
    patient = services.get_patient(patient_id)
    if patient is None:
        abort(404)
    relation = services.relation_to(patient.id)
    authorize(action, relation)
    return patient, relation


def _may():
    user = current_user._get_current_object()
    return lambda action, obj=None: can(user, action, obj)


def _url_per_id(endpoint: str, **values):
    """`endpoint`'s URL for any id, built by url_for once per page (entries differ only in the id)."""
    marker = str(MAX_ID)
    head, _, tail = url_for(endpoint, **values).partition(marker)
    return lambda row_id: f"{head}{int(row_id)}{tail}"


def _words() -> dict:
    """The history's words, translated once per page: a page has 50 entries with several words each, and a
    translation lookup per word was a quarter of a page's CPU. Patterns keep their %(name)s for `format`."""
    return {
        "referral": _("Referral"), "call_log": _("Call log"), "no_calls": _("No calls logged."),
        "open_referral": _("Open the referral"), "received": _("received %(day)s"),
        "consultation": _("Consultation %(code)s"), "no_doctor": _("no doctor yet"),
        "waited": _("waited %(time)s"), "not_started": _("not started"), "took": _("took %(time)s"),
        "follow_up_of": _("Follow-up of consultation %(code)s"),
        "open_consultation": _("Open consultation"), "open_report": _("Open the report"),
        "of_consultation": _("of consultation %(code)s"), "report_filed": _("Report filed"),
        "appointment": _("Appointment"), "checked_in": _("checked in %(when)s"),
        "front_desk": _("details to update at the front desk"), "not_checked_in": _("not checked in"),
        "open_diary": _("Open the diary"), "for_day": _("for %(day)s"),
        "travel_claim": _("Travel claim"), "for_visit": _("For the visit on %(day)s"),
        "claim_number": _("claim number %(number)s"), "open_claims": _("Open travel claims"),
        "care_request": _("Care request from %(partner)s"), "open_triage": _("Open in triage"),
        "from_partner": _("from %(partner)s"), "sms": _("Text message"), "email": _("E-mail"),
        "failed": _("failed"), "open_messages": _("Open messages"),
    }


def _history_context(patient, relation) -> dict:
    """What the history's entries ask, answered once per page: the policy for the viewer, the URLs, the words."""
    user = current_user._get_current_object()
    return {
        "may": _may(), "t": _words(),
        "may_referral": can(user, "referral.view"), "may_diary": can(user, "schedule.view"),
        "may_claims": can(user, "travel_claim.view"), "may_triage": can(user, "triage.handle"),
        "may_messages": can(user, "notification.view"), "may_report": can(user, "patient_record.report", relation),
        "consultation_url": _url_per_id("consultations.detail", consultation_id=MAX_ID),
        "referral_url": _url_per_id("referrals.detail", referral_id=MAX_ID),
        "triage_url": _url_per_id("triage.detail", care_request_id=MAX_ID),
        "diary_url": _url_per_id("scheduling.diary", schedule_id=MAX_ID),
        "claims_url": url_for("travel_pay.claims"),
        "messages_url": {status: url_for("notifications.outbox", status=status) for status in (PENDING, SENT, FAILED)},
        "report_url_of": _url_per_id("patient_record.earlier_report", patient_id=patient.id, consultation_id=MAX_ID),
    }


@bp.app_template_filter("stamp")
def stamp(moment) -> Markup:
    """A time as the history shows it: <time> with the day and hour in the page's language, in the install's
    zone (a filter: a macro cost 5x as much)."""
    return time_tag(moment)


@bp.get("/<int:patient_id>")
@sqlite_writer.audited_page
@requires("patient_record.view")
def record(patient_id: int):
    """The whole record; `?page=N` for older history (htmx asks for just the entries, to append them)."""
    patient, relation = _record(patient_id, "patient_record.view")
    history = services.history(patient.id, page=request.args.get("page", 1, type=int) or 1)
    context = {"patient": patient, "relation": relation, "history": history, **_history_context(patient, relation)}
    if not htmx_wants("history-more"):
        context.update(details=services.details(patient), show_form=ShowForm(formdata=None), national_id=None)
    services.record_viewed(patient, actor=_actor(), page=history.page)
    return page_or_block(TEMPLATE, "history_entries", target="history-more", **context), 200, NO_STORE


@bp.post("/<int:patient_id>/national-id")
@requires("patient_record.national_id")
def national_id(patient_id: int):
    """"Show" on the masked national id: the whole id, as its own audited read."""
    patient, relation = _record(patient_id, "patient_record.national_id")
    if not ShowForm().validate_on_submit():
        abort(400)
    shown = services.reveal_national_id(patient, actor=_actor())
    context = {"patient": patient, "relation": relation, "details": services.details(patient),
               "national_id": shown, "show_form": ShowForm(formdata=None), "may": _may()}
    if not htmx_wants():
        # Without htmx the whole record comes back, the id shown in it: that is a view of the record too.
        context.update(history=services.history(patient.id), **_history_context(patient, relation))
        services.record_viewed(patient, actor=_actor(), page=1)
    return page_or_block(TEMPLATE, "national_id", **context), 200, NO_STORE


def _report(patient_id: int, consultation_id: int):
    patient, relation = _record(patient_id, "patient_record.report")
    try:
        consultation, result = services.report_of(patient.id, consultation_id)
    except services.NotFound:
        abort(404)
    return patient, consultation, result


@bp.route("/<int:patient_id>/consultations/<int:consultation_id>/report", methods=["GET", "POST"])
@requires("patient_record.report")
def earlier_report(patient_id: int, consultation_id: int):
    """An earlier consultation's sealed report: first the reason (a short list), then the report, audited
    with that reason. Secretaries never get here (404): their history says only that a report exists."""
    patient, consultation, result = _report(patient_id, consultation_id)
    form = ReportReasonForm()
    context = {"patient": patient, "consultation": consultation, "form": form, "report": None}
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            context["report"] = services.read_earlier_report(consultation, result, reason=form.reason.data,
                                                             actor=_actor())
            context["reason"] = services.REPORT_REASONS[form.reason.data]
        elif not form.csrf_token.errors:
            status = 422
        else:
            abort(400)
    else:
        # The reason form names the patient and the consultation: a view of the record like any other.
        services.record_viewed(patient, actor=_actor(), part="report_reason", consultation_id=consultation.id)
    return page_or_block(REPORT_TEMPLATE, "report_panel", **context), status, NO_STORE
