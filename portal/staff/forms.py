from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from portal.security.models import STAFF_ROLES


def _lower(value):
    return value.strip().lower() if value else value


class NewPasswordForm(FlaskForm):
    """Choosing a password from an invitation or a reset link."""

    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class PasswordAgainForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)])


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])


# Capitalised for a choice list (the header's lower-case words are i18n.languages.ROLE_NAMES).
ROLE_CHOICES = [(role, {"secretary": _l("Secretary"), "doctor": _l("Doctor"), "admin": _l("Admin"),
                        "reporting": _l("Reporting")}.get(role, role)) for role in STAFF_ROLES]


class InviteForm(FlaskForm):
    name = StringField(_l("Name"), filters=[lambda v: v.strip() if v else v],
                       validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("E-mail"), filters=[_lower],
                       validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])


class StaffSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search: it changes nothing

    q = StringField(_l("Search by name or e-mail"), validators=[Optional(), Length(max=100)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), filters=[_lower],
                       validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
