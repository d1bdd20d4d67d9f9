from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.validators import InputRequired

from portal.patient_record.services import REPORT_REASONS


class ShowForm(FlaskForm):
    """A "show" button for a masked value: only the CSRF token (the read it triggers is audited)."""


class ReportReasonForm(FlaskForm):
    reason = RadioField(_l("Why are you opening this report?"), choices=list(REPORT_REASONS.items()),
                        validators=[InputRequired(message=_l("Choose why you are opening the report."))])
