from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from portal.input_rules import PlainText


class IdentityForm(FlaskForm):
    last_name = StringField(_l("Your last name"), validators=[DataRequired(message=_l("Enter your last name.")),
                                                          Length(max=200), PlainText(200)],
                            render_kw={"autocomplete": "family-name"})
    birth_date = DateField(_l("Your date of birth"),
                           validators=[InputRequired(message=_l("Enter your date of birth."))],
                           render_kw={"autocomplete": "bday"})


class YesNoForm(FlaskForm):
    answer = RadioField(_l("Answer"), choices=[("yes", _l("Yes")), ("no", _l("No"))],
                        validators=[InputRequired(message=_l("Choose yes or no."))])


class CheckInForm(FlaskForm):
    """The "Check in" button: only the CSRF token."""


class FileNowForm(FlaskForm):
    """The travel ask: file a claim now, or later (an equal choice)."""
    answer = RadioField(_l("Would you like to file a travel reimbursement claim?"),
                        choices=[("yes", _l("Yes, file a claim now")), ("later", _l("No, I’ll file later"))],
                        validators=[InputRequired(message=_l("Choose whether to file now or later."))])


class ReviewForm(FlaskForm):
    """The travel review: the agreement's checkbox, then "File claim" or "File later" (the `action` button)."""
    agree = BooleanField()
