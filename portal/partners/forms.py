from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, Regexp

from portal.input_rules import BoundedIntegerField, OptionalText, PlainText
from portal.partners.models import PARTNER_ROLES, TENANT_PATTERN

ROLE_LABELS = {"partner_admin": _l("Partner admin"), "scheduler": _l("Scheduler"), "viewer": _l("Viewer")}
ROLE_CHOICES = [(r, ROLE_LABELS.get(r, r)) for r in PARTNER_ROLES]


class InviteForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[InputRequired()])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[InputRequired()])


class EmptyForm(FlaskForm):
    pass


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[OptionalText(), Length(max=200), PlainText(200)])
    notification_email = StringField(_l("Notification e-mail"),
                                     validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    default_service_id = SelectField(_l("Default service line"), coerce=int, validators=[Optional()])


class PartnerSettingsForm(FlaskForm):
    """A partner's settings as a staff admin edits them. The rules are three plain fields, checked
    again by `settings.check_eligibility_rules` (the one home of what a valid rule is)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200), PlainText(200)])
    tenant = StringField(_l("Tenant slug"), validators=[
        DataRequired(), Length(max=64),
        Regexp(f"^{TENANT_PATTERN.pattern}$",
               message=_l("Use lower-case letters, digits and hyphens (e.g. north-care)."))])
    idp_issuer = StringField(_l("Issuer URL"), validators=[DataRequired(), Length(max=500)])
    idp_client_id = StringField(_l("Client id"), validators=[DataRequired(), Length(max=200), PlainText(200)])
    # Write-only: PasswordField never renders the value back, and the page never receives it.
    idp_client_secret = PasswordField(_l("Client secret"), validators=[Optional(), Length(max=500)])
    self_scheduling = BooleanField(_l("Self-scheduling: partner users may book free slots themselves"))
    triage_symptoms = TextAreaField(_l("Symptoms that go to triage, one per line"),
                                    validators=[OptionalText(), Length(max=6000), PlainText(6000, multiline=True)])
    triage_min_age = BoundedIntegerField(_l("Patients this age or older go to triage"), validators=[
        Optional(), NumberRange(0, 130, message=_l("Enter an age from 0 to %(max)d.", max=130))])
    triage_max_age = BoundedIntegerField(_l("Patients this age or younger go to triage"), validators=[
        Optional(), NumberRange(0, 130, message=_l("Enter an age from 0 to %(max)d.", max=130))])

    def rules(self) -> dict:
        return {"triage_symptoms": (self.triage_symptoms.data or "").splitlines(),
                "triage_min_age": self.triage_min_age.data, "triage_max_age": self.triage_max_age.data}

    def show_rules(self, rules: dict) -> None:
        """Fill the rule fields from stored rules; a value an older CLI stored malformed is left empty."""
        rules = rules if isinstance(rules, dict) else {}
        symptoms = rules.get("triage_symptoms")
        if isinstance(symptoms, list):
            self.triage_symptoms.data = "\n".join(s for s in symptoms if isinstance(s, str))
        for key in ("triage_min_age", "triage_max_age"):
            value = rules.get(key)
            getattr(self, key).data = value if isinstance(value, int) and not isinstance(value, bool) else None
