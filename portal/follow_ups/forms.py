from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, SelectField, SelectMultipleField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

CHANNEL_CHOICES = [("VIDEO", _l("Video")), ("PHONE", _l("Phone")), ("CHAT", _l("Chat"))]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class FollowUpConsultationForm(FlaskForm):
    channels = MultiCheckboxField(_l("Channels"), choices=CHANNEL_CHOICES)
    primary_channel = RadioField(_l("Main channel"), choices=CHANNEL_CHOICES,
                                 validators=[InputRequired(message=_l("Choose the main channel."))])
    doctor = RadioField(_l("Doctor"), choices=[("me", _l("With me")), ("any", _l("Any doctor"))], default="me",
                        validators=[InputRequired(message=_l("Choose who sees the patient."))])
    not_before = DateField(_l("Not before"), validators=[Optional()])


class FindSlotsForm(FlaskForm):
    """Which diary and day to look for free times in: a GET form (no CSRF; it changes nothing)."""

    class Meta:
        csrf = False

    schedule = SelectField(_l("Diary"), coerce=int, validators=[Optional()], validate_choice=False)
    day = DateField(_l("Day"), validators=[Optional()])


class FollowUpAppointmentForm(FlaskForm):
    slot_id = RadioField(_l("Free times"), coerce=int, validate_choice=False,
                         validators=[InputRequired(message=_l("Choose a time."))])
    schedule = HiddenField()
    day = HiddenField()
