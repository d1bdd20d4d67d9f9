from datetime import date

import phonenumbers
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from portal.ids import MAX_ID
from portal.input_rules import BoundedIntegerField, PlainText


def _phone(form, field):
    try:
        number = phonenumbers.parse(field.data or "", "GB")
    except phonenumbers.NumberParseException:
        raise ValidationError(_l("Enter a phone number.")) from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(_l("Enter a phone number."))
    field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class SearchForm(FlaskForm):
    q = StringField(_l("Name, birth date (YYYY-MM-DD) or phone"),
                    validators=[DataRequired(), Length(min=2, max=100), PlainText(100)])


class PatientForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=200), PlainText(200)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=200), PlainText(200)])
    birth_date = DateField(_l("Birth date"), validators=[InputRequired(message=_l("Enter a birth date."))])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=32), _phone])

    def validate_birth_date(self, field):
        if field.data and (field.data > date.today() or field.data.year < 1890):
            raise ValidationError(_l("Enter a real birth date."))


class EmptyForm(FlaskForm):
    pass


class VisitForm(FlaskForm):
    reason = TextAreaField(_l("Reason for visit"),
                           validators=[DataRequired(), Length(max=1000), PlainText(1000, multiline=True)])
    service_id = SelectField(_l("Service"), coerce=int, validators=[InputRequired(message=_l("Choose a service."))])
    address = StringField(_l("Address of the visit"), validators=[DataRequired(), Length(max=300), PlainText(300)])
    available_from = DateField(_l("Available from"), validators=[InputRequired(message=_l("Enter a date."))])
    callback_phone = StringField(_l("Callback number"), validators=[DataRequired(), Length(max=32), _phone])


class SlotForm(FlaskForm):
    slot_id = BoundedIntegerField(_l("Slot"),
                                  validators=[InputRequired(message=_l("Choose a time.")), NumberRange(1, MAX_ID)])
