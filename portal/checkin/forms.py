from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField
from wtforms.validators import InputRequired


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
