"""The identity step every patient link starts with, the check-in link's and the consultation link's.

The patient types their last name and date of birth; five failures lock the check (the caller's
service counts them, keyed per patient and purpose). A match clears the session, puts the caller's
access dict in it and starts the patient's language; everything after that is the caller's.
"""

from collections.abc import Callable

from flask import redirect, render_template, session
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from portal.i18n import languages
from portal.input_rules import PlainText
from portal.patients.services import language_of
from portal.security.patient_check import IdentityLocked


class IdentityForm(FlaskForm):
    last_name = StringField(_l("Your last name"), validators=[DataRequired(message=_l("Enter your last name.")),
                                                          Length(max=200), PlainText(200)],
                            render_kw={"autocomplete": "family-name"})
    birth_date = DateField(_l("Your date of birth"),
                           validators=[InputRequired(message=_l("Enter your date of birth."))],
                           render_kw={"autocomplete": "bday"})


def identity_step(link, *, locked: Callable, check: Callable, access_key: str, access: dict,
                  next_url: Callable[[], str], template: str):
    """The identity page for `link` (GET) and its answer (POST): a redirect to next_url() once
    `check(link, last_name=…, birth_date=…)` is true, otherwise the page again with the error
    (422) or the lock (429). `locked(link)` says whether the lock is on before anything is checked."""
    record_language = language_of(link.patient_id)
    languages.speak_patients_language(record_language)
    form = IdentityForm()
    is_locked = locked(link)
    if not is_locked and form.validate_on_submit():
        try:
            if check(link, last_name=form.last_name.data, birth_date=form.birth_date.data):
                chosen = languages.session_choice()
                session.clear()
                session.permanent = True
                session[access_key] = access
                languages.start_patient_session(link.patient_id, record_language, chosen)
                return redirect(next_url())
            form.last_name.errors.append(_("The last name or date of birth does not match what we have."))
        except IdentityLocked:
            is_locked = True
    status = 429 if is_locked else (422 if form.errors else 200)
    return render_template(template, form=form, locked=is_locked), status
