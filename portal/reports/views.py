"""Pages of the reports package: the audit-log browser (admins) and the dashboards (secretaries, admins)."""

from datetime import timedelta

from flask import Blueprint, current_app, render_template, request
from werkzeug.datastructures import MultiDict

from portal.reports import charts, dashboards
from portal.reports.forms import AuditFilterForm, DashboardFilterForm
from portal.security import audit, audit_log
from portal.security.models import utcnow
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


@bp.get("/dashboard")
@requires("dashboard.view")
def dashboard():
    max_days = current_app.config["DASHBOARD_MAX_DAYS"]
    form = DashboardFilterForm(formdata=MultiDict(request.args) if request.args else None, max_days=max_days)
    if request.args and not form.validate():
        return render_template("reports/dashboard.html", form=form, figures=None), 400
    period = _period(form, max_days)
    form.since.data, form.until.data = period.since, period.until
    return render_template("reports/dashboard.html", form=form, figures=dashboard_figures(period))


def _period(form, max_days: int) -> dashboards.Period:
    """The period asked for; a missing end is filled in from the other end or today (UTC)."""
    since, until = form.since.data, form.until.data
    if since and not until:
        until = min(since + timedelta(days=max_days - 1), utcnow().date())
        until = max(until, since)
    if until and not since:
        since = until - timedelta(days=29)
    if not since:
        return dashboards.last_days(utcnow().date())
    return dashboards.Period(since, until)


def dashboard_figures(period: dashboards.Period) -> dict:
    """Every panel's numbers and its chart; the outcome counts are one audited read."""
    figures = {
        "referrals": dashboards.daily_referrals(period),
        "states": dashboards.consultations_by_state(period),
        "waiting": dashboards.waiting_times(period),
        "treatment": dashboards.treatment_durations(period),
        "outcomes": dashboards.outcomes(period),
        "travel_claims": dashboards.travel_claim_outcomes(period),
    }
    span = f"{period.since:%d %b %Y} to {period.until:%d %b %Y}"
    days = period.days()
    figures["charts"] = {
        "referrals": charts.column_chart(
            figures["referrals"], chart_id="chart-referrals", title="Referrals received per day",
            desc=f"{sum(n for _, n in figures['referrals'])} referrals from {span}; the table below has each day.",
            unit="referrals"),
        "states": charts.bar_chart(
            figures["states"], chart_id="chart-states", title="Consultations by state",
            desc=f"Consultations created from {span}, by their state now; the table below has the counts."),
        "waiting": _spread_chart(figures["waiting"], days, "chart-waiting", "Waiting time per day",
                                 f"Median and 90th percentile minutes from creation to start, {span}."),
        "treatment": _spread_chart(figures["treatment"], days, "chart-treatment", "Treatment duration per day",
                                   f"Median and 90th percentile minutes from start to end, {span}."),
        "outcomes": charts.bar_chart(
            figures["outcomes"], chart_id="chart-outcomes", title="Consultation outcomes",
            desc=f"Reports filed from {span}, by outcome; the table below has the counts."),
    }
    if figures["travel_claims"] is not None:
        figures["charts"]["travel_claims"] = charts.bar_chart(
            figures["travel_claims"], chart_id="chart-travel-claims", title="Travel-claim outcomes",
            desc=f"Travel claims from {span}, by status; the table below has the counts.")
    return figures


def _spread_chart(spreads, days, chart_id: str, title: str, desc: str):
    return charts.line_chart(days, [("Median", "median", {s.day: s.median for s in spreads}),
                                    ("90th percentile", "p90", {s.day: s.p90 for s in spreads})],
                             chart_id=chart_id, title=title, desc=desc, unit="minutes")
