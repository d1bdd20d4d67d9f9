"""The chat as both sides' pages answer it: the doctor's (staff pages) and the patient's (waiting
room) send and poll through these two, each with its own URLs and checks. `consultation` is what
`services.chat_consultation` reads (a row of ids and state), not an ORM instance."""

from flask import flash, g, redirect, render_template, request
from flask_babel import gettext as _

from portal import live
from portal.consultations import services
from portal.consultations.forms import ChatForm
from portal.ids import MAX_ID
from portal.pages import htmx_wants
from portal.security import audit


def post_chat(consultation, role: str, poll_url: str, page_url: str):
    """Shared by the doctor's and the patient's chat form: store, then answer with what the page lacks."""
    # CSRFProtect has checked this POST's token before the view (flask-wtf's g.csrf_valid, which the form's
    # own check defers to); the form's CSRF field would only sign a fresh token (~300 Python calls) for an
    # answer that never shows one.
    form = ChatForm(meta={"csrf": False}) if g.get("csrf_valid") else ChatForm()
    reader = ("patient", str(consultation.patient_id)) if role == "patient" else None
    error, status, after = None, 200, _after()
    if not form.validate_on_submit():
        error, status = " ".join(map(str, form.message.errors)) or _("Write a message first."), 422
    else:
        try:
            messages, version = services.post_chat_message(
                consultation, token=form.chat_token.data, text=form.message.data, expected_role=role,
                after=after, reader=reader)
        except services.InvalidConsultation as exc:
            error, status = str(exc).capitalize() + ".", 422
        except services.NotAllowedNow as exc:
            error, status = str(exc), 409
    if not htmx_wants():
        if error:
            flash(error)
        return redirect(page_url)
    if error:
        return chat_news(consultation, role, poll_url, live.version(services.chat_topic(consultation.id)),
                         reader=reader, sent=True, error=error, status=status)
    return _news(messages, role, poll_url, version, after, sent=True)


def chat_news(consultation, viewer: str, poll_url: str, version: int, *, reader=None, sent: bool = False,
              error: str | None = None, status: int = 200):
    """Answer a chat poll or a sent message with only the messages after the page's last one (its
    `after`). Re-sending the whole conversation made every answer cost more the longer the chat ran.
    `version` is read before the messages, so one stored in between bumps it and the next poll asks.
    Each batch of messages sent out is a read of patient data, audited like any other."""
    after = _after()
    messages = services.chat_messages(consultation, after=after)
    if messages:
        audit.record_read("consultation.chat_read", subject=("Consultation", consultation.id),
                          patient_id=consultation.patient_id, actor=reader)
    return _news(messages, viewer, poll_url, version, after, sent=sent, error=error, status=status)


def _after() -> int:
    return min(max(request.values.get("after", 0, type=int) or 0, 0), MAX_ID)


def _news(messages, viewer: str, poll_url: str, version: int, after: int, *, sent: bool = False,
          error: str | None = None, status: int = 200):
    return render_template("consultations/_chat_news.html", messages=messages, viewer=viewer, after=after,
                           last_id=messages[-1].id if messages else after, chat_version=version,
                           poll_url=poll_url, sent=sent, error=error), status
