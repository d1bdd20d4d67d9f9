from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from portal.input_rules import PlainText


class IdentityForm(FlaskForm):
    last_name = StringField("Your last name", validators=[DataRequired(message="Enter your last name."),
                                                          Length(max=200), PlainText(200)],
                            render_kw={"autocomplete": "family-name"})
    birth_date = DateField("Your date of birth", validators=[InputRequired(message="Enter your date of birth.")],
                           render_kw={"autocomplete": "bday"})


class YesNoForm(FlaskForm):
    answer = RadioField("Answer", choices=[("yes", "Yes"), ("no", "No")],
                        validators=[InputRequired(message="Choose yes or no.")])


class CheckInForm(FlaskForm):
    """The "Check in" button: only the CSRF token."""
