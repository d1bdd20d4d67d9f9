from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.input_rules import OptionalText, PlainText
from portal.patients.identifiers import InvalidIdentifier, normalise_nhs_number


def nhs_number_check(form, field):
    try:
        field.data = normalise_nhs_number(field.data or "")
    except InvalidIdentifier as exc:
        raise ValidationError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None


class BookingForForm(FlaskForm):
    """Which referral or triage request the booking is for: ids only, looked up and checked server-side."""
    referral_id = HiddenField(validators=[Optional(), Length(max=10)])
    care_request_id = HiddenField(validators=[Optional(), Length(max=10)])


class FindServiceForm(BookingForForm):
    nhs_number = StringField(_l("NHS number"), validators=[DataRequired(), Length(max=20), nhs_number_check])
    postcode = StringField(_l("Patient's postcode"), validators=[DataRequired(), Length(max=10), PlainText(10)])


class ChooseServiceForm(BookingForForm):
    nhs_number = HiddenField(validators=[DataRequired(), nhs_number_check])
    service_id = HiddenField(validators=[DataRequired(), Length(max=64)])


class BookRemoteSlotForm(ChooseServiceForm):
    slot_id = HiddenField(validators=[DataRequired(), Length(max=64)])
    # The provider's identifier of the slot and its schedule, sent back in the contained Slot that books it.
    slot_identifier = HiddenField(validators=[Optional(), Length(max=64)])
    schedule = HiddenField(validators=[Optional(), Length(max=100)])
    start = HiddenField(validators=[DataRequired(), Length(max=40)])
    end = HiddenField(validators=[DataRequired(), Length(max=40)])
    description = StringField(_l("Reason for the appointment"),
                              validators=[OptionalText(), Length(max=200), PlainText(200)])
