"""Admin pages of the reports package: the audit-log browser."""

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from portal.reports.forms import AuditFilterForm
from portal.security import audit, audit_log
from portal.security.policy import requires

bp = Blueprint("reports", __name__)


@bp.get("/admin/audit")
@requires("audit.browse")
def audit_browser():
    form = AuditFilterForm(formdata=MultiDict(request.args) if request.args else None)
    form.staff.choices = [("", "Anyone")] + [(str(i), label) for i, label in audit_log.staff_choices()]
    if request.args and not form.validate():
        return render_template("reports/audit.html", form=form, result=None), 400
    staff = form.staff.data
    filters = audit_log.AuditFilter(
        staff_id=int(staff) if staff else None, patient_id=form.patient.data, action=(form.action.data or "").strip() or None,
        about_patients=bool(form.about_patients.data), since=form.since.data, until=form.until.data)
    result = audit_log.search(filters, form.page.data or 1)
    # Browsing the log is itself audited: who looked for which patient's trail.
    # The patient filter goes in details: it may name a patient who does not exist (no foreign key).
    audit.record_read("audit.browsed", patient_filter=filters.patient_id, page=result.page,
                      staff_filter=filters.staff_id, action_filter=filters.action)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("reports/audit.html", form=form, result=result, args=args)
