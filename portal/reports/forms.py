from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError


class AuditFilterForm(FlaskForm):
    """GET filter form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    staff = SelectField("Staff member", coerce=str, validators=[Optional()])
    patient = IntegerField("Patient number", validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])
    action = StringField("Action starts with", validators=[Optional(), Length(max=64)])
    about_patients = BooleanField("Only events about a patient")
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=10_000)])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("Must not be before the start date.")


class InsurerReportForm(FlaskForm):
    insurer = SelectField("Insurer", coerce=str, validators=[InputRequired(message="Choose an insurer.")])
    since = DateField("From", validators=[InputRequired(message="Enter the first day of the period.")])
    until = DateField("To (inclusive)", validators=[InputRequired(message="Enter the last day of the period.")])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("Must not be before the start date.")
