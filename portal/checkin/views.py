"""The patient's check-in, phone first and one question per page. Plain forms; no JS needed.

Patients have no account: passing the identity check for a link puts their patient id in the
signed session (`checkin_access`), and `policy.patient_may_check_in` decides from there. The link
token appears only in the link itself; answers so far live in the session until "Check in".
"""

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from portal import sqlite_writer
from portal.checkin import services
from portal.checkin.forms import CheckInForm, FileNowForm, ReviewForm, YesNoForm
from portal.extensions import limiter
from portal.i18n import languages
from portal.patient_links import identity_step
from portal.security import audit
from portal.security.policy import patient_may_check_in
from portal.travel_pay.agreement import current_agreement
from portal.travel_pay.models import claim_status_label
from portal.travel_pay.services import claim_for_appointment, claims_portal_url

bp = Blueprint("checkin", __name__, url_prefix="/checkin")


def _message(title: str, text: str, status: int = 200):
    return render_template("checkin/message.html", title=title, text=text), status


@bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def identity_check(token: str):
    link = services.find_link(token)
    if link is None:
        return _message(_("This link does not work"),
                        _("The link is unknown or has expired. Contact the clinic for a new one."), 404)
    return identity_step(link, locked=services.identity_locked, check=services.check_identity,
                         access_key="checkin_access", access={"patient_id": link.patient_id},
                         next_url=lambda: url_for("checkin.appointments"), template="checkin/identity.html")


def _patient_id() -> int:
    access = session.get("checkin_access")
    if not access:
        abort(404)
    return access["patient_id"]


def _appointment(appointment_id: int):
    access = session.get("checkin_access")
    appointment = services.patient_appointment(_patient_id(), appointment_id)
    if not patient_may_check_in(access, appointment):
        abort(404)
    return appointment


def _answers(appointment_id: int) -> dict:
    return dict(session.get("checkin_answers", {}).get(str(appointment_id), {}))


def _save_answer(appointment_id: int, name: str, value: bool | str) -> None:
    every = dict(session.get("checkin_answers", {}))
    every[str(appointment_id)] = {**_answers(appointment_id), name: value}
    session["checkin_answers"] = every


@bp.get("/appointments")
@sqlite_writer.audited_page
def appointments():
    patient_id = _patient_id()
    todays = services.todays_appointments(patient_id)
    audit.record_read("checkin.appointments_viewed", patient_id=patient_id, actor=("patient", str(patient_id)),
                      count=len(todays))
    return render_template("checkin/appointments.html", appointments=todays, services=services)


@bp.get("/appointments/<int:appointment_id>")
@sqlite_writer.audited_page
def appointment(appointment_id: int):
    """The appointment page: the next question, or the "Check in" button once all are answered."""
    appt = _appointment(appointment_id)
    if services.existing_check_in(appt.id):
        return redirect(url_for("checkin.done", appointment_id=appt.id))
    closed = services.window_message(appt)
    answers = _answers(appt.id)
    offered = services.travel_pay_offered(appt)
    question = services.next_question(answers, offered)
    if not closed and question is not None:
        return redirect(_step_url(appt.id, question))
    return render_template("checkin/appointment.html", appointment=appt, closed=closed, form=CheckInForm(),
                           services=services, travel=services.travel_choice(answers) if offered else None), \
        (200 if not closed else 409)


def _step_url(appointment_id: int, question) -> str:
    if question is services.ASK:
        return url_for("checkin.travel_ask", appointment_id=appointment_id)
    if question is services.REVIEW:
        return url_for("checkin.travel_review", appointment_id=appointment_id)
    return url_for("checkin.question", appointment_id=appointment_id, name=question.name)


def _open_travel_step(appointment_id: int):
    """The appointment for a travel page, or the response that refuses it (not offered, window closed)."""
    appt = _appointment(appointment_id)
    if not services.travel_pay_offered(appt):
        abort(404)
    if services.existing_check_in(appt.id):
        return appt, redirect(url_for("checkin.done", appointment_id=appt.id))
    closed = services.window_message(appt)
    if closed:
        return appt, _message(_("Check-in is not open"), closed, 409)
    return appt, None


def _question_context(appt, question) -> dict:
    """What the patient is asked to confirm, read (and audited) only for the question that shows it."""
    shown = {"contact": "contact", "emergency_contact": "emergency contact", "next_of_kin": "next of kin",
             "home_address": "home address"}.get(question.name)
    patient = services.read_patient_for_checkin(appt.patient_id, shown) if shown else None
    return {"appointment": appt, "question": question, "patient": patient, "services": services}


@bp.route("/appointments/<int:appointment_id>/questions/<name>", methods=["GET", "POST"])
def question(appointment_id: int, name: str):
    appt = _appointment(appointment_id)
    question = services.QUESTIONS.get(name)
    offered = services.travel_pay_offered(appt)
    if question is None or (question.travel and not offered):
        abort(404)
    closed = services.window_message(appt)
    if closed:
        return _message(_("Check-in is not open"), closed, 409)
    form = YesNoForm()
    if form.validate_on_submit():
        _save_answer(appt.id, name, form.answer.data == "yes")
        if question.travel and form.answer.data == "no":
            return redirect(url_for("checkin.not_eligible", appointment_id=appt.id))
        return redirect(url_for("checkin.appointment", appointment_id=appt.id))
    return render_template("checkin/question.html", form=form, **_question_context(appt, question)), \
        (422 if form.errors else 200)


@bp.route("/appointments/<int:appointment_id>/travel-pay", methods=["GET", "POST"])
def travel_ask(appointment_id: int):
    """File a travel claim now, or later: asked before any travel question, both choices equal."""
    appt, refused = _open_travel_step(appointment_id)
    if refused:
        return refused
    form = FileNowForm()
    if form.validate_on_submit():
        now = form.answer.data == "yes"
        _save_answer(appt.id, services.ASK.name, now)
        if not now:
            return redirect(url_for("checkin.travel_later", appointment_id=appt.id))
        return redirect(url_for("checkin.appointment", appointment_id=appt.id))
    return render_template("checkin/travel_ask.html", form=form, appointment=appt, services=services,
                           file_by=services.file_by(appt)), (422 if form.errors else 200)


@bp.get("/appointments/<int:appointment_id>/travel-pay/later")
def travel_later(appointment_id: int):
    """How to file afterwards, within the deadline. Nothing is stored or queued for travel."""
    appt = _appointment(appointment_id)
    return render_template("checkin/travel_later.html", appointment=appt, portal_url=claims_portal_url(),
                           file_by=services.file_by(appt), services=services)


@bp.route("/appointments/<int:appointment_id>/travel-pay/review", methods=["GET", "POST"])
@sqlite_writer.audited_page
def travel_review(appointment_id: int):
    """The answers and the beneficiary travel agreement: a checkbox, then "File claim" or "File later"."""
    appt, refused = _open_travel_step(appointment_id)
    if refused:
        return refused
    answers = _answers(appt.id)
    if not services.travel_eligible(answers) or answers.get(services.ASK.name) is not True:
        return redirect(url_for("checkin.appointment", appointment_id=appt.id))
    agreement = current_agreement(languages.current_language())  # English where no wording in the language exists
    form = ReviewForm()
    status = 200
    if form.validate_on_submit():
        if request.form.get("action") == "later":
            _save_answer(appt.id, services.REVIEW.name, False)
            return redirect(url_for("checkin.travel_later", appointment_id=appt.id))
        if form.agree.data:
            _save_answer(appt.id, services.REVIEW.name, agreement.version)
            _save_answer(appt.id, services.AGREEMENT_LANGUAGE, agreement.language)
            return redirect(url_for("checkin.appointment", appointment_id=appt.id))
        form.agree.errors = [_("You must accept the beneficiary travel agreement before you file your claim.")]
        status = 422
    elif form.errors:
        status = 400
    patient = services.read_patient_for_checkin(appt.patient_id, "home address")
    return render_template("checkin/travel_review.html", form=form, appointment=appt, agreement=agreement,
                           patient=patient, services=services), status


@bp.get("/appointments/<int:appointment_id>/travel")
def not_eligible(appointment_id: int):
    appt = _appointment(appointment_id)
    return render_template("checkin/not_eligible.html", appointment=appt, portal_url=claims_portal_url(),
                           reason=services.first_travel_no(_answers(appt.id)), file_by=services.file_by(appt))


@bp.post("/appointments/<int:appointment_id>/check-in")
def check_in(appointment_id: int):
    appt = _appointment(appointment_id)
    if not CheckInForm().validate_on_submit():
        return _message(_("Please try again"), _("The page had expired. Open the appointment again and check in."), 400)
    try:
        services.check_in(appt, _answers(appt.id))
    except services.NotCheckable as exc:
        return _message(_("You are not checked in yet"), str(exc), 409)
    return redirect(url_for("checkin.done", appointment_id=appt.id))


@bp.get("/appointments/<int:appointment_id>/done")
def done(appointment_id: int):
    appt = _appointment(appointment_id)
    record = services.existing_check_in(appt.id)
    if record is None:
        return redirect(url_for("checkin.appointment", appointment_id=appt.id))
    claim = claim_for_appointment(appt.id)
    return render_template("checkin/done.html", appointment=appt, check_in=record, claim=claim,
                           portal_url=claims_portal_url(), services=services, file_by=services.file_by(appt),
                           claim_label=claim_status_label)
