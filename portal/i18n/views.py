"""Choosing a language: the switch on patient pages (and every page for people not signed in), and the
preference page of staff and partner users. Both POST to /language."""

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.i18n import languages
from portal.patients.services import set_language

bp = Blueprint("languages", __name__)


def _next_page() -> str:
    """Back where the switch was pressed (same page, same answers); only a path of ours."""
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("languages.choose")
    return target


@bp.get("/language")
def choose():
    return render_template("i18n/language.html", next_page=request.args.get("next"))


@bp.post("/language")
def switch():
    code = languages.normalise(request.form.get("lang"))
    if code is None or code not in languages.offered():
        abort(400)
    languages.choose(code)
    if current_user.is_authenticated:
        current_user.language = code
        db.session.commit()
    elif (patient_id := session.get(languages.PATIENT_KEY)) and code in languages.LANGUAGES:
        set_language(patient_id, code, actor=("patient", str(patient_id)))
        db.session.commit()
    if request.form.get("next") is None:  # the preference page itself
        flash(_("From now on the portal speaks %(language)s to you.", language=languages.LANGUAGES.get(code, code)))
    return redirect(_next_page())
