from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from portal.consultations.models import CATEGORIES, CATEGORY_LABELS, CHANNEL_LABELS, CHANNELS
from portal.i18n.languages import speaking
from portal.input_rules import OptionalText, PlainText
from portal.referrals.models import CALL_OUTCOMES, KEPT, UPDATED

DECLINE_REASONS = [
    ("not_reached", _l("Patient could not be reached")),
    ("declined_by_patient", _l("Patient does not want a consultation")),
    ("not_covered", _l("Not covered by the insurance")),
    ("wrong_service", _l("Needs another service")),
    ("duplicate", _l("Duplicate referral")),
    ("other", _l("Other")),
]



class CallAttemptForm(FlaskForm):
    outcome = RadioField(_l("What happened?"), choices=list(CALL_OUTCOMES.items()), validators=[InputRequired()])
    note = TextAreaField(_l("Note"), validators=[OptionalText(), Length(max=1000), PlainText(1000, multiline=True)])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ConsultationForm(FlaskForm):
    enabled_channels = MultiCheckboxField(_l("Channels"), choices=[(c, CHANNEL_LABELS[c]) for c in CHANNELS],
                                          default=list(CHANNELS))
    primary_channel = RadioField(_l("Primary channel"), choices=[(c, CHANNEL_LABELS[c]) for c in CHANNELS],
                                 default="VIDEO",
                                 validators=[InputRequired()])
    category = SelectField(_l("Category"), choices=[(c, CATEGORY_LABELS[c]) for c in CATEGORIES],
                           default="insurance")
    urgent = BooleanField(_l("Urgent"))
    interpreter_language = StringField(_l("Interpreter needed (language)"),
                                       validators=[OptionalText(), Length(max=60), PlainText(60)])

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if not self.enabled_channels.data:
            self.enabled_channels.errors.append(_l("Choose at least one channel."))
            return False
        if self.primary_channel.data not in self.enabled_channels.data:
            self.primary_channel.errors.append(_l("The primary channel must be one of the chosen channels."))
            return False
        return True

    def options(self) -> dict:
        options = {"urgent": bool(self.urgent.data)}
        if self.interpreter_language.data:
            options["interpreterLanguage"] = self.interpreter_language.data.strip()
        return options


class DeclineForm(FlaskForm):
    reason = SelectField(_l("Reason"), choices=DECLINE_REASONS, validators=[DataRequired()])
    details = TextAreaField(_l("Details"), validators=[OptionalText(), Length(max=400), PlainText(400, multiline=True)])

    def reason_text(self) -> str:
        """The reason as stored: in English whatever the page's language, like every stored record."""
        with speaking("en"):
            label = str(dict(DECLINE_REASONS)[self.reason.data])
        return f"{label}: {self.details.data.strip()}" if self.details.data else label


SENT_DETAIL_DECISIONS = [f"{field}:{choice}" for field in ("name", "phone", "email") for choice in (UPDATED, KEPT)]


class SentDetailForm(FlaskForm):
    """One of the buttons beside a sent detail: `decision` is "<field>:updated" or "<field>:kept"."""
    decision = StringField(validators=[InputRequired(), AnyOf(SENT_DETAIL_DECISIONS, message=_l("Choose a button."))])

    def field_and_choice(self) -> tuple[str, str]:
        field, choice = self.decision.data.split(":")
        return field, choice


class DuplicateForm(FlaskForm):
    duplicate_of = SelectField(_l("Duplicate of"), coerce=int, validators=[InputRequired()])

    def offer(self, others) -> "DuplicateForm":
        """The referrals this one may repeat: the patient's others that are not duplicates themselves."""
        self.duplicate_of.choices = [(o.id, o.label) for o in others if o.status != "duplicate"]
        return self
