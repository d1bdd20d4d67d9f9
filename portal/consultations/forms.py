from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from portal.consultations.results import OUTCOMES
from portal.consultations.services import ANY_DOCTOR
from portal.i18n.languages import speaking
from portal.input_rules import OptionalText, PlainText

CANCEL_REASONS = [
    ("patient_request", _l("The patient asked to cancel")),
    ("not_reached", _l("The patient could not be reached")),
    ("duplicate", _l("Duplicate consultation")),
    ("wrong_service", _l("Needs another service")),
    ("other", _l("Other")),
]


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


class AssignForm(FlaskForm):
    doctor_id = SelectField(_l("Doctor"), coerce=int, validators=[InputRequired()], validate_choice=True)
    # The doctor the page showed ("" for none), so a secretary never overrides a change she has not seen.
    expected_doctor_id = HiddenField()

    def expected_doctor(self):
        value = self.expected_doctor_id.data
        if value is None:
            return ANY_DOCTOR
        return int(value) if value.isdigit() else None


class CancelForm(FlaskForm):
    reason = SelectField(_l("Reason for cancelling"), choices=CANCEL_REASONS, validators=[DataRequired()])
    details = TextAreaField(_l("Details"), validators=[OptionalText(), Length(max=400), PlainText(400, multiline=True)])

    def reason_text(self) -> str:
        """The reason as stored: in English whatever the page's language, like every stored record."""
        with speaking("en"):
            label = str(dict(CANCEL_REASONS)[self.reason.data])
        return f"{label}: {self.details.data.strip()}" if self.details.data else label


class ChatForm(FlaskForm):
    message = TextAreaField(_l("Message"), validators=[DataRequired(message=_l("Write a message first.")),
                                                   Length(max=2000), PlainText(2000, multiline=True)])
    chat_token = HiddenField(validators=[DataRequired()])


class DirectStartForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=200), PlainText(200)],
                             render_kw={"autocomplete": "given-name"})
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=200), PlainText(200)],
                            render_kw={"autocomplete": "family-name"})
    birth_date = DateField(_l("Date of birth"), validators=[InputRequired(message=_l("Enter your date of birth."))],
                           render_kw={"autocomplete": "bday"})
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(), Length(max=32)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})


class CoverageForm(FlaskForm):
    policy_number = StringField(_l("Insurance policy number"),
                                validators=[DataRequired(), Length(max=60), PlainText(60)])


class NeedForm(FlaskForm):
    need = TextAreaField(_l("What do you need help with?"),
                         validators=[DataRequired(), Length(max=2000), PlainText(2000, multiline=True)])
    channel = RadioField(_l("How do you want to talk to the doctor?"),
                         choices=[("VIDEO", _l("Video")), ("PHONE", _l("Phone")), ("CHAT", _l("Chat"))],
                         default="VIDEO",
                         validators=[InputRequired()])


class ReviewForm(FlaskForm):
    rating = RadioField(_l("How was your consultation? (1 = poor, 5 = very good)"),
                        choices=[(str(n), str(n)) for n in range(1, 6)], validators=[InputRequired()])
    comment = TextAreaField(_l("Anything you want to tell us (optional)"),
                            validators=[OptionalText(), Length(max=2000), PlainText(2000, multiline=True)])


class ReportForm(FlaskForm):
    icpc2_code = StringField(_l("ICPC-2 code"), validators=[DataRequired(), Length(max=200), PlainText(200)],
                             render_kw={"list": "icpc2-codes", "autocomplete": "off"})
    outcome = SelectField(_l("Outcome"), choices=[("", _l("Choose…"))] + list(OUTCOMES.items()),
                          validators=[DataRequired(message=_l("Choose an outcome."))])
    patient_national_id = StringField(_l("Patient’s national id (only when the patient is someone else, e.g. a child)"),
                                      validators=[Optional(), Length(max=20)], render_kw={"inputmode": "numeric"})
    job_description = StringField(_l("Patient’s job"), validators=[OptionalText(), Length(max=200), PlainText(200)])
    policy_number = StringField(_l("Policy number"), validators=[OptionalText(), Length(max=60), PlainText(60)])
    notes = TextAreaField(_l("Notes"), validators=[OptionalText(), Length(max=5000), PlainText(5000, multiline=True)])
