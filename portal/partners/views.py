"""Partner pages and the secretaries' triage queue. Thin: parse, ask policy, call a service, render."""

from flask import Blueprint

from portal.partners import models  # noqa: F401  (tables known to the app and to Alembic)

bp = Blueprint("partners", __name__)
triage_bp = Blueprint("triage", __name__)
