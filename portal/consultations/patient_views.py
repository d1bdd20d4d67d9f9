"""The patient's side: link, identity check, waiting room, chat, review. Phone first.

Patients have no account. Passing the identity check for a link puts the consultation and
patient ids in the (signed) session; `policy.patient_may` decides from there. The link token
appears only in the link itself; every later page has a plain URL.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from jinja2_fragments.flask import render_block

from portal import live, sqlite_writer
from portal.consultations import services
from portal.consultations.chat_views import chat_news, post_chat
from portal.consultations.forms import ChatForm, ReviewForm
from portal.consultations.models import CANCELLED, COMPLETED, IN_PROGRESS
from portal.extensions import limiter
from portal.patient_links import identity_step
from portal.security import audit
from portal.security.policy import patient_may

# A child of the consultations blueprint: endpoints consultations.patient.*.
bp = Blueprint("patient", __name__, url_prefix="/c")

ROOM_TEMPLATE = "consultations/patient_room.html"


@bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def identity_check(token: str):
    link = services.find_patient_link(token)
    if link is None:
        return render_template("consultations/patient_message.html", title=_("This link does not work"),
                               text=_("The link is unknown or has expired. Contact the clinic for a new one.")), 404
    return identity_step(link, locked=services.identity_locked, check=services.check_patient_identity,
                         access_key="patient_access",
                         access={"consultation_id": link.consultation_id, "patient_id": link.patient_id},
                         next_url=lambda: url_for(".room"), template="consultations/patient_check.html")


def _patient_consultation(action: str = "consultation.view", *, with_patient: bool = True):
    access = session.get("patient_access")
    if not access:
        abort(404)
    consultation = services.get_consultation(access.get("consultation_id", 0), with_patient=with_patient)
    if not patient_may(access, action, consultation):
        abort(404)
    return consultation


def _patient_chat_consultation():
    access = session.get("patient_access")
    consultation = services.chat_consultation(access.get("consultation_id", 0)) if access else None
    if not patient_may(access, "consultation.chat", consultation):
        abort(404)
    return consultation


def _audit_read(consultation, what: str):
    audit.record_read(what, subject=consultation, patient_id=consultation.patient_id,
                      actor=("patient", str(consultation.patient_id)))


def _room_context(consultation):
    return {
        "consultation": consultation,
        "version": live.version(services.consultation_topic(consultation.id)),
        "chat_version": live.version(services.chat_topic(consultation.id)),
        "chat_token": services.chat_token(consultation, for_doctor=False),
        "messages": services.chat_messages(consultation),
        "video_room": services.video_room_of(consultation),
        "video_key": services.video_key(consultation, for_doctor=False),
        "chat_form": ChatForm(formdata=None),
        "IN_PROGRESS": IN_PROGRESS,
        "CANCELLED": CANCELLED,
    }


@bp.get("/room")
@sqlite_writer.audited_page
def room():
    consultation = _patient_consultation()
    if consultation.state == COMPLETED:
        return redirect(url_for(".review"))
    _audit_read(consultation, "consultation.patient_viewed")
    return render_template(ROOM_TEMPLATE, **_room_context(consultation))


@bp.get("/room/poll")
@limiter.exempt
def room_poll():
    """204 while nothing changed; the room as soon as the doctor starts, or off to the review."""
    consultation = _patient_consultation(with_patient=False)
    if request.args.get("since", type=int) == live.version(services.consultation_topic(consultation.id)):
        return "", 204
    if consultation.state == COMPLETED:
        return "", 200, {"HX-Redirect": url_for(".review")}
    return render_block(ROOM_TEMPLATE, "room", **_room_context(consultation))


@bp.get("/room/chat")
@sqlite_writer.audited_page
@limiter.exempt
def chat_poll():
    consultation = _patient_chat_consultation()
    version = live.version(services.chat_topic(consultation.id))
    if request.args.get("since", type=int) == version:
        return "", 204
    return chat_news(consultation, "patient", url_for(".chat_poll"), version,
                     reader=("patient", str(consultation.patient_id)))


@bp.post("/room/chat")
@limiter.limit("60 per minute")
def chat_post():
    consultation = _patient_chat_consultation()
    return post_chat(consultation, "patient", url_for(".chat_poll"), url_for(".room"))


@bp.route("/review", methods=["GET", "POST"])
@sqlite_writer.audited_page
def review():
    consultation = _patient_consultation("consultation.review")
    if consultation.state != COMPLETED:
        return redirect(url_for(".room"))
    _audit_read(consultation, "consultation.patient_viewed")
    existing = services.review_of(consultation)
    form = ReviewForm()
    if existing is None and form.validate_on_submit():
        try:
            services.submit_review(consultation, rating=int(form.rating.data), comment=form.comment.data)
        except (services.NotAllowedNow, services.InvalidConsultation) as exc:
            flash(str(exc))
        return redirect(url_for(".review"))
    return render_template("consultations/patient_review.html", consultation=consultation, form=form,
                           review=existing, messages=services.chat_messages(consultation)), \
        422 if form.errors else 200
