from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.input_rules import BoundedIntegerField, PlainText

WEEKDAYS = [("0", "Monday"), ("1", "Tuesday"), ("2", "Wednesday"), ("3", "Thursday"), ("4", "Friday"),
            ("5", "Saturday"), ("6", "Sunday")]
TIMEZONES = [("Europe/London", "Europe/London"), ("Europe/Oslo", "Europe/Oslo"), ("UTC", "UTC")]


class ScheduleForm(FlaskForm):
    name = StringField("Schedule name", validators=[DataRequired(), Length(max=200), PlainText(200)])
    service_name = StringField("Healthcare service", validators=[DataRequired(), Length(max=200), PlainText(200)])
    organisation_code = StringField("Organisation code (ODS)",
                                    validators=[DataRequired(), Length(max=20), PlainText(20)])
    location_name = StringField("Location", validators=[Optional(), Length(max=200), PlainText(200)])
    practitioner_given = StringField("Practitioner given name",
                                     validators=[Optional(), Length(max=100), PlainText(100)])
    practitioner_family = StringField("Practitioner family name",
                                      validators=[Optional(), Length(max=100), PlainText(100)])
    timezone = SelectField("Time zone", choices=TIMEZONES, default="Europe/London")

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if bool(self.practitioner_given.data) != bool(self.practitioner_family.data):
            self.practitioner_family.errors.append("Give both names of the practitioner, or neither.")
            return False
        return True


class TemplateForm(FlaskForm):
    weekday = SelectField("Weekday", choices=WEEKDAYS, validators=[InputRequired()])
    start_time = TimeField("Opens", validators=[InputRequired()])
    end_time = TimeField("Closes", validators=[InputRequired()])
    slot_minutes = BoundedIntegerField("Slot length (minutes)", default=15,
                                validators=[InputRequired(), NumberRange(min=5, max=480)])

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if self.end_time.data <= self.start_time.data:
            self.end_time.errors.append("Closing time must be after opening time.")
            return False
        return True


class GenerateForm(FlaskForm):
    first_day = DateField("First day", validators=[InputRequired()])
    last_day = DateField("Last day", validators=[InputRequired()])

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if self.last_day.data < self.first_day.data:
            self.last_day.errors.append("The last day must not be before the first.")
            return False
        return True


class StaffBookingForm(FlaskForm):
    national_id = StringField("Patient's fødselsnummer or NHS number", validators=[DataRequired(), Length(max=20)],
                              render_kw={"inputmode": "numeric", "autocomplete": "off"})
    description = StringField("Reason for the appointment", validators=[Optional(), Length(max=200), PlainText(200)])
    # Only for a patient not known here yet: the patient is created with the booking.
    first_name = StringField("First name", validators=[Optional(), Length(max=200), PlainText(200)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=200), PlainText(200)])
    birth_date = DateField("Date of birth", validators=[Optional()])
    phone = StringField("Mobile phone", validators=[Optional(), Length(max=32)], render_kw={"inputmode": "tel"})

    def describes_new_patient(self) -> bool:
        return any(f.data for f in (self.first_name, self.last_name, self.birth_date, self.phone))

    def new_patient(self) -> dict:
        return {"first_name": self.first_name.data, "last_name": self.last_name.data,
                "birth_date": self.birth_date.data, "phone": self.phone.data}
