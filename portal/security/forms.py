from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp


def _lower(value):
    return value.strip().lower() if value else value


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), filters=[_lower],
                       validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class EmptyForm(FlaskForm):
    """A form with only its CSRF token: the buttons that change something."""


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), filters=[lambda v: "".join(v.split()) if v else v],
                       validators=[DataRequired(), Length(max=40)])


class SetUpCodeForm(FlaskForm):
    code = StringField(_l("Code from your app"), filters=[lambda v: "".join(v.split()) if v else v],
                       validators=[DataRequired(), Regexp(r"^\d{6}$", message=_l("Enter the 6 digits."))])
