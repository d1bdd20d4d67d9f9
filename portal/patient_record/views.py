"""The patient record pages (staff): /patients/<id>, its history pages, "show" the national id, earlier reports.

Every page and fragment is an audited read of patient data. Access is the policy's (patient_record.*);
a refusal is 404 for every role, so nobody learns which patient numbers exist.
"""

from flask import Blueprint, abort, request
from flask_login import current_user

from portal.pages import htmx_wants, page_or_block
from portal.patient_record import services
from portal.patient_record.forms import ReportReasonForm, ShowForm
from portal.security.policy import authorize, can, requires

bp = Blueprint("patient_record", __name__, url_prefix="/patients")

TEMPLATE = "patient_record/record.html"
REPORT_TEMPLATE = "patient_record/report.html"
NO_STORE = {"Cache-Control": "no-store"}


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


@bp.get("/<int:patient_id>")
@requires("patient_record.view")
def record(patient_id: int):
    """The whole record; `?page=N` for older history (htmx asks for just the entries, to append them)."""
    patient, relation = _record(patient_id, "patient_record.view")
    history = services.history(patient.id, page=request.args.get("page", 1, type=int) or 1)
    context = {"patient": patient, "relation": relation, "history": history, "may": _may()}
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
        context["history"] = services.history(patient.id)
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
