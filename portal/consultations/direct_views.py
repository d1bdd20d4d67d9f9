"""The direct flow's pages: /start → e-mailed link → coverage → need → the waiting room."""

from flask import Blueprint, redirect, render_template, session, url_for
from flask_babel import gettext as _

from portal.consultations import direct, services
from portal.consultations.forms import CoverageForm, DirectStartForm, NeedForm
from portal.extensions import limiter
from portal.i18n import languages
from portal.patients.identifiers import InvalidIdentifier, normalise_email, parse_phone

# A child of the consultations blueprint: endpoints consultations.direct.*.
bp = Blueprint("direct", __name__, url_prefix="/start")


@bp.route("", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def start():
    form = DirectStartForm()
    if form.validate_on_submit():
        try:
            phone = parse_phone(form.phone.data).e164
        except InvalidIdentifier:
            form.phone.errors.append(_("This is not a phone number. Give your mobile number, with the country code "
                                      "if it is not Norwegian."))
            return render_template("consultations/direct_start.html", form=form), 422
        try:
            direct.request_sign_in(email=normalise_email(form.email.data), first_name=form.first_name.data.strip(),
                                   last_name=form.last_name.data.strip(), birth_date=form.birth_date.data,
                                   phone=phone)
        except (direct.SignInUnavailable, InvalidIdentifier):
            return render_template("consultations/patient_message.html", title=_("Please try again later"),
                                   text=_("We could not send your sign-in link just now.")), 503
        return render_template("consultations/patient_message.html", title=_("Check your e-mail"),
                               text=_("We have sent you a link. Open it on this device to continue."))
    return render_template("consultations/direct_start.html", form=form), 422 if form.errors else 200


@bp.get("/<token>")
def signed_in(token: str):
    identity = direct.redeem_sign_in(token)
    if identity is None:
        return render_template("consultations/patient_message.html", title=_("This link does not work"),
                               text=_("The link is unknown, used or expired. Start again to get a new one.")), 404
    chosen = languages.session_choice()
    session.clear()
    session.permanent = True
    session["direct_identity"] = identity
    if chosen:
        languages.choose(chosen)
    return redirect(url_for(".coverage"))


def _identity():
    return session.get("direct_identity")


@bp.route("/coverage", methods=["GET", "POST"])
def coverage():
    if not _identity():
        return redirect(url_for(".start"))
    form = CoverageForm()
    if form.validate_on_submit():
        number = form.policy_number.data.strip()
        try:
            covered = direct.is_covered(number)
        except services.ServiceUnavailable:
            form.policy_number.errors.append(_("We could not reach your insurer just now. Try again in a minute."))
            return render_template("consultations/direct_coverage.html", form=form), 503
        if not covered:
            form.policy_number.errors.append(_("Your insurer says this policy does not cover a consultation."))
            return render_template("consultations/direct_coverage.html", form=form), 422
        session["direct_policy"] = number
        return redirect(url_for(".need"))
    return render_template("consultations/direct_coverage.html", form=form), 422 if form.errors else 200


@bp.route("/need", methods=["GET", "POST"])
def need():
    identity, policy = _identity(), session.get("direct_policy")
    if not identity or not policy:
        return redirect(url_for(".start"))
    form = NeedForm()
    if form.validate_on_submit():
        consultation = direct.open_direct_consultation(identity, policy_number=policy, need=form.need.data,
                                                       channel=form.channel.data,
                                                       language=languages.record_language())
        chosen = languages.session_choice()
        session.clear()
        session.permanent = True
        session["patient_access"] = {"consultation_id": consultation.id, "patient_id": consultation.patient_id}
        languages.start_patient_session(consultation.patient_id, consultation.patient.language, chosen)
        return redirect(url_for("consultations.patient.room"))
    return render_template("consultations/direct_need.html", form=form), 422 if form.errors else 200
