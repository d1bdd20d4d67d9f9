from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from portal.ids import MAX_ID
from portal.input_rules import BoundedIntegerField, OptionalText, PlainText


class AuditFilterForm(FlaskForm):
    """GET filter form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    staff = SelectField(_l("Staff member"), coerce=str, validators=[Optional()])
    patient = BoundedIntegerField(_l("Patient number"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    action = StringField(_l("Action starts with"), validators=[OptionalText(), Length(max=64), PlainText(64)])
    about_patients = BooleanField(_l("Only events about a patient"))
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    page = BoundedIntegerField(_l("Page"), validators=[Optional(), NumberRange(min=1, max=10_000)])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("Must not be before the start date."))


class InsurerReportForm(FlaskForm):
    insurer = SelectField(_l("Insurer"), coerce=str, validators=[InputRequired(message=_l("Choose an insurer."))])
    since = DateField(_l("From"), validators=[InputRequired(message=_l("Enter the first day of the period."))])
    until = DateField(_l("To (inclusive)"), validators=[InputRequired(message=_l("Enter the last day of the period."))])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("Must not be before the start date."))


class DashboardFilterForm(FlaskForm):
    """The dashboards' period: a GET form that changes nothing, so no CSRF token."""

    class Meta:
        csrf = False

    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])

    EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)

    def __init__(self, *args, max_days: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_days = max_days

    def validate_since(self, field):
        self._within_bounds(field)

    def _within_bounds(self, field):
        # Days near 0001-01-01 or 9999-12-31 would overflow the period's arithmetic.
        if field.data and not self.EARLIEST <= field.data <= self.LATEST:
            raise ValidationError(_l("Choose a date from %(first)s to %(last)s.", first=self.EARLIEST.year,
                                     last=self.LATEST.year))

    def validate_until(self, field):
        self._within_bounds(field)
        if not (field.data and self.since.data):
            return
        if field.data < self.since.data:
            raise ValidationError(_l("Must not be before the start date."))
        if (field.data - self.since.data).days + 1 > self.max_days:
            raise ValidationError(_l("Choose a period of at most %(days)d days.", days=self.max_days))
