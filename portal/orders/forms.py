from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from portal.input_rules import BoundedIntegerField


class OrderFilterForm(FlaskForm):
    """GET filter form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    insurer = SelectField("Insurer", coerce=str, validators=[Optional()])
    since = DateField("Served from", validators=[Optional()])
    until = DateField("Served to", validators=[Optional()])
    page = BoundedIntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100_000)])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("Must not be before the start date.")


class DiscountForm(FlaskForm):
    line_id = BoundedIntegerField(validators=[InputRequired(), NumberRange(min=1, max=2**31 - 1)])
    percent = DecimalField("Discount (%)", places=2, validators=[
        InputRequired(message="Enter a discount in per cent, 0 to 100."),
        NumberRange(min=0, max=100, message="The discount must be between 0 %% and 100 %%.")])
