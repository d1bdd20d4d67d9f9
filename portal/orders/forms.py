from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DecimalField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from portal.ids import MAX_ID
from portal.input_rules import BoundedIntegerField


class OrderFilterForm(FlaskForm):
    """GET filter form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    insurer = SelectField(_l("Insurer"), coerce=str, validators=[Optional()])
    since = DateField(_l("Served from"), validators=[Optional()])
    until = DateField(_l("Served to"), validators=[Optional()])
    page = BoundedIntegerField(_l("Page"), validators=[Optional(), NumberRange(min=1, max=100_000)])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("Must not be before the start date."))


class DiscountForm(FlaskForm):
    line_id = BoundedIntegerField(validators=[InputRequired(), NumberRange(min=1, max=MAX_ID)])
    percent = DecimalField(_l("Discount (%)"), places=2, validators=[
        InputRequired(message=_l("Enter a discount in per cent, 0 to 100.")),
        NumberRange(min=0, max=100, message=_l("The discount must be between 0 %% and 100 %%."))])


class InsurerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    org_number = StringField(_l("Organisation number"), validators=[InputRequired(), Length(max=40)])
    is_default = BooleanField(_l("Default insurer (insurance referrals and the coverage check are billed to it)"))


def _price(label):
    return DecimalField(label, places=2, validators=[Optional()])


class DealForm(FlaskForm):
    name = StringField(_l("Name of the deal"), id="deal_name", validators=[InputRequired(), Length(max=200)])
    valid_from = DateField(_l("In force from"), validators=[InputRequired()])
    valid_until = DateField(_l("In force until (empty: open-ended)"), validators=[Optional()])
    price_video = _price(_l("Price of a video consultation"))
    price_phone = _price(_l("Price of a phone consultation"))
    price_chat = _price(_l("Price of a chat consultation"))
    price_any = _price(_l("Price of any other consultation"))
    follow_up_price_video = _price(_l("Price of a follow-up by video"))
    follow_up_price_phone = _price(_l("Price of a follow-up by phone"))
    follow_up_price_chat = _price(_l("Price of a follow-up by chat"))
    follow_up_price_any = _price(_l("Price of any other follow-up"))
