from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.input_rules import BoundedIntegerField, OptionalText, PlainText

WEEKDAYS = [("0", _l("Monday")), ("1", _l("Tuesday")), ("2", _l("Wednesday")), ("3", _l("Thursday")),
            ("4", _l("Friday")), ("5", _l("Saturday")), ("6", _l("Sunday"))]
TIMEZONES = [("Europe/London", "Europe/London"), ("Europe/Oslo", "Europe/Oslo"), ("UTC", "UTC")]


class ScheduleForm(FlaskForm):
    name = StringField(_l("Schedule name"), validators=[DataRequired(), Length(max=200), PlainText(200)])
    service_name = StringField(_l("Healthcare service"), validators=[DataRequired(), Length(max=200), PlainText(200)])
    organisation_code = StringField(_l("Organisation code (ODS)"),
                                    validators=[DataRequired(), Length(max=20), PlainText(20)])
    location_name = StringField(_l("Location"), validators=[OptionalText(), Length(max=200), PlainText(200)])
    practitioner_given = StringField(_l("Practitioner given name"),
                                     validators=[OptionalText(), Length(max=100), PlainText(100)])
    practitioner_family = StringField(_l("Practitioner family name"),
                                      validators=[OptionalText(), Length(max=100), PlainText(100)])
    # IANA zone ids are names, not words: a translation tool must leave them alone.
    timezone = SelectField(_l("Time zone"), choices=TIMEZONES, default="Europe/London",
                           render_kw={"translate": "no"})

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if bool(self.practitioner_given.data) != bool(self.practitioner_family.data):
            self.practitioner_family.errors.append(_l("Give both names of the practitioner, or neither."))
            return False
        return True


class TemplateForm(FlaskForm):
    weekday = SelectField(_l("Weekday"), choices=WEEKDAYS, validators=[InputRequired()])
    start_time = TimeField(_l("Opens"), validators=[InputRequired()])
    end_time = TimeField(_l("Closes"), validators=[InputRequired()])
    slot_minutes = BoundedIntegerField(_l("Slot length (minutes)"), default=15,
                                validators=[InputRequired(), NumberRange(min=5, max=480)])

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if self.end_time.data <= self.start_time.data:
            self.end_time.errors.append(_l("Closing time must be after opening time."))
            return False
        return True


class GenerateForm(FlaskForm):
    first_day = DateField(_l("First day"), validators=[InputRequired()])
    last_day = DateField(_l("Last day"), validators=[InputRequired()])

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if self.last_day.data < self.first_day.data:
            self.last_day.errors.append(_l("The last day must not be before the first."))
            return False
        return True


class StaffBookingForm(FlaskForm):
    national_id = StringField(_l("Patient's fødselsnummer or NHS number"), validators=[DataRequired(), Length(max=20)],
                              render_kw={"inputmode": "numeric", "autocomplete": "off"})
    description = StringField(_l("Reason for the appointment"),
                              validators=[OptionalText(), Length(max=200), PlainText(200)])
    # Only for a patient not known here yet: the patient is created with the booking.
    first_name = StringField(_l("First name"), validators=[OptionalText(), Length(max=200), PlainText(200)])
    last_name = StringField(_l("Last name"), validators=[OptionalText(), Length(max=200), PlainText(200)])
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=32)], render_kw={"inputmode": "tel"})

    def describes_new_patient(self) -> bool:
        return any(f.data for f in (self.first_name, self.last_name, self.birth_date, self.phone))

    def new_patient(self) -> dict:
        return {"first_name": self.first_name.data, "last_name": self.last_name.data,
                "birth_date": self.birth_date.data, "phone": self.phone.data}
