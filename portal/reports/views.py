"""Pages of the reports package: the audit-log browser (admins), the dashboards (secretaries, admins) and the
insurer report (request, progress, download)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from portal import sqlite_writer
from portal.i18n.formatting import day, in_zone
from portal.orders.services import insurers
from portal.pages import page_or_block
from portal.reports import charts, dashboards, insurer_report
from portal.reports.forms import AuditFilterForm, DashboardFilterForm, InsurerReportForm
from portal.security import audit, audit_log
from portal.security.models import utcnow
from portal.security.policy import authorize_found, requires

bp = Blueprint("reports", __name__)


@bp.app_template_filter()
def audit_stamp(moment) -> Markup:
    """An audit event's time to the second, in the install's zone with its abbreviation (2026-12-02 07:40:05 CET):
    the same in every language, as investigators compare them across logs."""
    local = in_zone(moment)
    return Markup('<time datetime="{}Z">{}</time>').format(moment.isoformat(), local.strftime("%Y-%m-%d %H:%M:%S %Z"))


@bp.get("/admin/audit")
@sqlite_writer.audited_page
@requires("audit.browse")
def audit_browser():
    form = AuditFilterForm(formdata=MultiDict(request.args) if request.args else None)
    form.staff.choices = [("", _("Anyone"))] + [(str(i), label) for i, label in audit_log.staff_choices()]
    if request.args and not form.validate():
        return render_template("reports/audit.html", form=form, result=None), 400
    staff = form.staff.data
    filters = audit_log.AuditFilter(
        staff_id=int(staff) if staff else None, patient_id=form.patient.data,
        action=(form.action.data or "").strip() or None,
        about_patients=bool(form.about_patients.data), since=form.since.data, until=form.until.data)
    result = audit_log.search(filters, form.page.data or 1)
    # Browsing the log is itself audited: who looked for which patient's trail.
    # The patient filter goes in details: it may name a patient who does not exist (no foreign key).
    audit.record_read("audit.browsed", patient_filter=filters.patient_id, page=result.page,
                      staff_filter=filters.staff_id, action_filter=filters.action)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("reports/audit.html", form=form, result=result, args=args)


# -- the insurer report ------------------------------------------------------------------------

RUN_TEMPLATE = "reports/insurer_run.html"


def _report_form() -> InsurerReportForm:
    form = InsurerReportForm()
    form.insurer.choices = [("", _("Choose an insurer"))] + [(str(i.id), i.name) for i in insurers()]
    return form


@bp.get("/reports/insurer")
@requires("insurer_report.request")
def insurer_reports():
    return render_template("reports/insurer.html", form=_report_form(), runs=insurer_report.recent_runs())


@bp.post("/reports/insurer")
@requires("insurer_report.request")
def request_insurer_report():
    form = _report_form()
    if form.validate():
        try:
            run = insurer_report.request_report(insurer_id=int(form.insurer.data), start=form.since.data,
                                                end=form.until.data, by_id=current_user.id)
        except insurer_report.InvalidReportRequest as exc:
            form.until.errors = list(form.until.errors) + [str(exc)]
        else:
            return redirect(url_for("reports.insurer_run", run_id=run.id), 303)
    return render_template("reports/insurer.html", form=form, runs=insurer_report.recent_runs()), 400


def _run_or_404(run_id: int):
    return authorize_found("insurer_report.request", insurer_report.get_run(run_id))


@bp.get("/reports/insurer/runs/<int:run_id>")
@requires("insurer_report.request")
def insurer_run(run_id: int):
    """The run's page; htmx polls the same URL for the progress block until the run is finished."""
    run = _run_or_404(run_id)
    return page_or_block(RUN_TEMPLATE, "progress", run=run)


@bp.get("/reports/insurer/runs/<int:run_id>/download")
@sqlite_writer.audited_page
@requires("insurer_report.download")
def download_insurer_report(run_id: int):
    run = _run_or_404(run_id)
    opened = insurer_report.open_report_file(run)
    if opened is None:
        abort(404)  # expired (kept REPORT_KEEP_HOURS), failed or not finished yet
    name, data = opened
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


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
    """The period asked for, in the clinic's days; a missing end is filled in from the other end or the
    clinic's today."""
    zone = ZoneInfo(current_app.config["CLINIC_TIME_ZONE"])
    today = dashboards.today_in(zone, utcnow())
    since, until = form.since.data, form.until.data
    if since and not until:
        until = min(since + timedelta(days=max_days - 1), today)
        until = max(until, since)
    if until and not since:
        since = until - timedelta(days=29)
    if not since:
        return dashboards.last_days(today, zone=zone)
    return dashboards.Period(since, until, zone)


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
    span = {"since": day(period.since, form="medium"), "until": day(period.until, form="medium")}
    days = period.days()
    received = sum(n for _day, n in figures["referrals"])
    figures["charts"] = {
        "referrals": charts.column_chart(
            figures["referrals"], chart_id="chart-referrals", title=_("Referrals received per day"),
            desc=ngettext("%(num)d referral from %(since)s to %(until)s; the table below has each day.",
                          "%(num)d referrals from %(since)s to %(until)s; the table below has each day.",
                          received, **span),
            unit=_("referrals")),
        "states": charts.bar_chart(
            figures["states"], chart_id="chart-states", title=_("Consultations by state"),
            desc=_("Consultations created from %(since)s to %(until)s, by their state now; the table below has "
                   "the counts.", **span)),
        "waiting": _spread_chart(figures["waiting"], days, "chart-waiting", _("Waiting time per day"),
                                 _("Median and 90th percentile minutes from creation to start, %(since)s to "
                                   "%(until)s.", **span)),
        "treatment": _spread_chart(figures["treatment"], days, "chart-treatment", _("Treatment duration per day"),
                                   _("Median and 90th percentile minutes from start to end, %(since)s to %(until)s.",
                                     **span)),
        "outcomes": charts.bar_chart(
            figures["outcomes"], chart_id="chart-outcomes", title=_("Consultation outcomes"),
            desc=_("Reports filed from %(since)s to %(until)s, by outcome; the table below has the counts.", **span)),
        "travel_claims": charts.bar_chart(
            figures["travel_claims"], chart_id="chart-travel-claims", title=_("Travel-claim outcomes"),
            desc=_("Travel claims made from %(since)s to %(until)s, by their status now; the table below has the "
                   "counts.", **span)),
    }
    return figures


def _spread_chart(spreads, days, chart_id: str, title: str, desc: str):
    return charts.line_chart(days, [(_("Median"), "median", {s.day: s.median for s in spreads}),
                                    (_("90th percentile"), "p90", {s.day: s.p90 for s in spreads})],
                             chart_id=chart_id, title=title, desc=desc, unit=_("minutes"))
