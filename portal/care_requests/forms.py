from datetime import date

import phonenumbers
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from portal.ids import MAX_ID
from portal.input_rules import BoundedIntegerField, PlainText


def _phone(form, field):
    try:
        number = phonenumbers.parse(field.data or "", "GB")
    except phonenumbers.NumberParseException:
        raise ValidationError("Enter a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError("Enter a phone number.")
    field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class SearchForm(FlaskForm):
    q = StringField("Name, birth date (YYYY-MM-DD) or phone",
                    validators=[DataRequired(), Length(min=2, max=100), PlainText(100)])


class PatientForm(FlaskForm):
    first_name = StringField("First name", validators=[DataRequired(), Length(max=200), PlainText(200)])
    last_name = StringField("Last name", validators=[DataRequired(), Length(max=200), PlainText(200)])
    birth_date = DateField("Birth date", validators=[InputRequired(message="Enter a birth date.")])
    phone = StringField("Phone", validators=[DataRequired(), Length(max=32), _phone])

    def validate_birth_date(self, field):
        if field.data and (field.data > date.today() or field.data.year < 1890):
            raise ValidationError("Enter a real birth date.")


class EmptyForm(FlaskForm):
    pass


class VisitForm(FlaskForm):
    reason = TextAreaField("Reason for visit",
                           validators=[DataRequired(), Length(max=1000), PlainText(1000, multiline=True)])
    service_id = SelectField("Service", coerce=int, validators=[InputRequired(message="Choose a service.")])
    address = StringField("Address of the visit", validators=[DataRequired(), Length(max=300), PlainText(300)])
    available_from = DateField("Available from", validators=[InputRequired(message="Enter a date.")])
    callback_phone = StringField("Callback number", validators=[DataRequired(), Length(max=32), _phone])


class SlotForm(FlaskForm):
    slot_id = BoundedIntegerField("Slot",
                                  validators=[InputRequired(message="Choose a time."), NumberRange(1, MAX_ID)])
