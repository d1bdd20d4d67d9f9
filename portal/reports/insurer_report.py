"""The insurer report: an xlsx of the consultations served for an insurer in a period.

`request_report` records a run and queues the job; `build_report` (the job's body) streams the
rows into a write-only workbook in batches, opening the sealed fields through the results module
(audited), and keeps the finished file sealed in the run for REPORT_KEEP_HOURS. A monthly job
asks for last month's report of every insurer, once per insurer and month.

The workbook is written in the language of the staff member who asked (the install's for the monthly
runs), and its times are the clinic's wall-clock times (CLINIC_TIME_ZONE), named in the summary: a
spreadsheet cell has no time zone, and an insurer reads 10:20 as the time the consultation began.
"""

import base64
import io
import logging
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import redis
from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from rq import Queue
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal import periodic
from portal.consultations import results
from portal.consultations.models import Consultation
from portal.extensions import db, redis_client
from portal.i18n.languages import speaking
from portal.orders.models import Insurer, Order
from portal.reports.models import DONE, EXPIRED, FAILED, QUEUED, RUNNING, ReportRun
from portal.security import audit
from portal.security.models import utcnow

log = logging.getLogger(__name__)
QUEUE = "reports"
BATCH = 1000
MAX_PERIOD_DAYS = 366
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DURATION_FORMAT = "[h]:mm:ss"
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.00%"
# (heading, width in characters, number format)
COLUMNS = [
    (_l("Consultation"), 13, None), (_l("Order"), 9, "0"), (_l("Created"), 17, DATETIME_FORMAT),
    (_l("Started"), 17, DATETIME_FORMAT), (_l("Ended"), 17, DATETIME_FORMAT),
    (_l("Waiting time"), 13, DURATION_FORMAT), (_l("Treatment duration"), 13, DURATION_FORMAT),
    (_l("Channel"), 9, None), (_l("ICPC-2"), 8, None), (_l("Outcome"), 26, None), (_l("Policy number"), 18, "@"),
    (_l("Price"), 12, MONEY_FORMAT), (_l("Discount"), 10, PERCENT_FORMAT), (_l("Total"), 12, MONEY_FORMAT),
]


class InvalidReportRequest(ValueError):
    pass


# -- asking for a report ----------------------------------------------------------------------------

def check_period(start: date, end: date) -> None:
    if end < start:
        raise InvalidReportRequest("The period must not end before it starts.")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise InvalidReportRequest(f"A report covers at most {MAX_PERIOD_DAYS} days.")


def request_report(*, insurer_id: int, start: date, end: date, by_id: int | None) -> ReportRun:
    """Record a run and queue its job. A run that could not be queued is marked failed, never lost."""
    check_period(start, end)
    if db.session.get(Insurer, insurer_id) is None:
        raise InvalidReportRequest("Choose an insurer.")
    run = ReportRun(insurer_id=insurer_id, period_start=start, period_end=end, requested_by_id=by_id)
    db.session.add(run)
    db.session.flush()
    audit.record("insurer_report.requested", subject=run, insurer_id=insurer_id, period_start=start.isoformat(),
                 period_end=end.isoformat())
    db.session.commit()
    enqueue_build(run)
    return run


def enqueue_build(run: ReportRun) -> None:
    try:
        Queue(QUEUE, connection=redis_client()).enqueue(
            "portal.reports.jobs.build_insurer_report", run.id, job_id=f"report-run-{run.id}", job_timeout=900)
    except redis.RedisError:
        log.warning("could not queue report run %s", run.id)
        db.session.execute(update(ReportRun).where(ReportRun.id == run.id)
                           .values(status=FAILED, error="The job queue is unavailable; ask again later."))
        db.session.commit()


def recent_runs(limit: int = 20) -> list[ReportRun]:
    return list(db.session.scalars(select(ReportRun).order_by(ReportRun.created_at.desc(), ReportRun.id.desc())
                                   .limit(limit)))


def get_run(run_id: int) -> ReportRun | None:
    return db.session.get(ReportRun, run_id, populate_existing=True)


# -- building it (the job) -----------------------------------------------------------------------

def _orders_in(run: ReportRun):
    return select(Order.id).where(Order.insurer_id == run.insurer_id, Order.served_on >= run.period_start,
                                  Order.served_on <= run.period_end)


def _batch(run: ReportRun, after_id: int):
    """The next BATCH orders of the run with their consultations' plain columns; nothing sealed."""
    return db.session.execute(
        select(Order.id, Order.subtotal, Order.discount_total, Order.total, Consultation.id.label("consultation_id"),
               Consultation.patient_id, Consultation.code, Consultation.created_at, Consultation.starts_at,
               Consultation.ends_at, Consultation.primary_channel)
        .join(Consultation, Consultation.id == Order.consultation_id)
        .where(Order.id.in_(_orders_in(run).where(Order.id > after_id).order_by(Order.id).limit(BATCH)))
        .order_by(Order.id)).all()


def _cell(sheet, value, number_format=None, bold=False):
    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)
    return cell


def _duration(start, end):
    return end - start if start and end else None


class _Summary:
    def __init__(self):
        self.count = 0
        self.price = self.discount = self.total = Decimal("0.00")
        self.waiting, self.treatment = timedelta(), timedelta()
        self.by_outcome: dict[str, list] = defaultdict(lambda: [0, Decimal("0.00")])
        self.by_channel: dict[str, list] = defaultdict(lambda: [0, Decimal("0.00")])

    def add(self, row, outcome_label, waiting, treatment):
        self.count += 1
        self.price += row.subtotal
        self.discount += row.discount_total
        self.total += row.total
        self.waiting += waiting or timedelta()
        self.treatment += treatment or timedelta()
        for bucket, key in ((self.by_outcome, outcome_label or _("No report filed")), (self.by_channel,
                                                                                    row.primary_channel)):
            bucket[key][0] += 1
            bucket[key][1] += row.total


def _wall_clock(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A stored (naive UTC) moment as the clinic's clock showed it, naive again for the spreadsheet cell."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc).astimezone(zone).replace(tzinfo=None)


def _row(sheet, row, opened, zone: ZoneInfo) -> tuple[list, timedelta | None, timedelta | None]:
    waiting, treatment = _duration(row.created_at, row.starts_at), _duration(row.starts_at, row.ends_at)
    discount = (row.discount_total / row.subtotal) if row.subtotal else Decimal("0")
    values = [row.code, row.id, _wall_clock(row.created_at, zone), _wall_clock(row.starts_at, zone),
              _wall_clock(row.ends_at, zone), waiting, treatment, row.primary_channel,
              opened["icpc2_code"], opened["outcome_label"], opened["policy_number"], row.subtotal, discount,
              row.total]
    cells = [_cell(sheet, value, fmt) for value, (_heading, _width, fmt) in zip(values, COLUMNS)]
    return cells, waiting, treatment


def _write_summary(sheet, run: ReportRun, insurer: Insurer, summary: _Summary, zone: ZoneInfo) -> None:
    sheet.column_dimensions["A"].width = 30
    for letter in "BC":
        sheet.column_dimensions[letter].width = 16
    bold = lambda value: _cell(sheet, value, bold=True)  # noqa: E731
    sheet.append([bold(_("Insurer report")), insurer.name])
    sheet.append([_("Organisation number"), insurer.org_number])
    sheet.append([_("Period"), _cell(sheet, run.period_start, "yyyy-mm-dd"),
                  _cell(sheet, run.period_end, "yyyy-mm-dd")])
    sheet.append([_("Generated"), _cell(sheet, _wall_clock(utcnow(), zone), DATETIME_FORMAT)])
    sheet.append([_("Times are the clinic’s (%(zone)s)", zone=zone.key)])
    sheet.append([])
    sheet.append([bold(_("Consultations")), summary.count])
    sheet.append([_("Price"), _cell(sheet, summary.price, MONEY_FORMAT)])
    sheet.append([_("Discount"), _cell(sheet, summary.discount, MONEY_FORMAT)])
    sheet.append([_("Total"), _cell(sheet, summary.total, MONEY_FORMAT)])
    if summary.count:
        sheet.append([_("Average waiting time"), _cell(sheet, summary.waiting / summary.count, DURATION_FORMAT)])
        sheet.append([_("Average treatment duration"), _cell(sheet, summary.treatment / summary.count,
                                                             DURATION_FORMAT)])
    for title, bucket in ((_("Outcome"), summary.by_outcome), (_("Channel"), summary.by_channel)):
        sheet.append([])
        sheet.append([bold(title), bold(_("Consultations")), bold(_("Total"))])
        for key in sorted(bucket):
            count, total = bucket[key]
            sheet.append([key, count, _cell(sheet, total, MONEY_FORMAT)])


def _progress(run_id: int, **values) -> None:
    db.session.execute(update(ReportRun).where(ReportRun.id == run_id).values(**values))
    db.session.commit()


def build_report(run_id: int) -> str:
    """Build the run's workbook, streaming orders in batches; safe to run twice (a done run is left alone).
    Written in the language of whoever asked for it (the install's for the monthly runs)."""
    run = db.session.get(ReportRun, run_id)
    if run is None or run.status not in (QUEUED, RUNNING, FAILED):
        return "nothing to do"
    with speaking(run.requested_by.language if run.requested_by else None):
        return _build(run)


def _build(run: ReportRun) -> str:
    run_id = run.id
    zone = ZoneInfo(current_app.config["CLINIC_TIME_ZONE"])
    insurer = db.session.get(Insurer, run.insurer_id)
    total_rows = db.session.scalar(select(func.count()).select_from(_orders_in(run).subquery()))
    _progress(run_id, status=RUNNING, rows_total=total_rows, rows_done=0, error=None)

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Consultations"))
    for index, (_heading, width, _format) in enumerate(COLUMNS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, str(heading), bold=True) for heading, _width, _format in COLUMNS])
    summary, after_id, done = _Summary(), 0, 0
    while rows := _batch(run, after_id):
        opened = results.read_results_for_insurer_report([(r.consultation_id, r.patient_id) for r in rows],
                                                         report_run_id=run_id)
        for row in rows:
            cells, waiting, treatment = _row(sheet, row, opened[row.consultation_id], zone)
            sheet.append(cells)
            summary.add(row, opened[row.consultation_id]["outcome_label"], waiting, treatment)
        after_id, done = rows[-1].id, done + len(rows)
        _progress(run_id, rows_done=done)
    _write_summary(workbook.create_sheet(_("Summary")), run, insurer, summary, zone)
    buffer = io.BytesIO()
    workbook.save(buffer)
    finished = utcnow()
    run = db.session.get(ReportRun, run_id, populate_existing=True)
    run.file = base64.b64encode(buffer.getvalue()).decode()
    run.file_name = f"report-{insurer.org_number}-{run.period_start:%Y%m%d}-{run.period_end:%Y%m%d}.xlsx"
    run.status, run.rows_done, run.finished_at = DONE, done, finished
    run.expires_at = finished + timedelta(hours=current_app.config["REPORT_KEEP_HOURS"])
    audit.record("insurer_report.built", subject=run, actor=results.REPORTING_JOB, rows=done)
    db.session.commit()
    return f"{done} rows"


def mark_failed(run_id: int, error: Exception) -> None:
    db.session.rollback()
    # Only the kind of error: a message could quote a sealed value.
    _progress(run_id, status=FAILED, error=f"The report could not be built ({type(error).__name__}).")


# -- downloading and expiry ----------------------------------------------------------------------

def open_report_file(run: ReportRun) -> tuple[str, bytes] | None:
    """The file's name and bytes while it is kept; None once expired. Each download is audited."""
    if run.status != DONE or run.file is None or run.expires_at is None or run.expires_at <= utcnow():
        return None
    data = base64.b64decode(run.file)
    audit.record_read("insurer_report.downloaded", subject=run, insurer_id=run.insurer_id, bytes=len(data))
    return run.file_name, data


def purge_expired_reports() -> int:
    """Empty the file of every run past its expiry. Returns how many were purged."""
    purged = db.session.execute(update(ReportRun).where(ReportRun.status == DONE, ReportRun.expires_at <= utcnow())
                                .values(status=EXPIRED, file=None)).rowcount
    db.session.commit()
    return purged


def schedule_purge(run_id: int) -> None:
    """The file goes when it expires, even if nobody builds another report (job id: once per run).
    Redis down: the next build purges it."""
    run = db.session.get(ReportRun, run_id, populate_existing=True)
    if run is None or run.expires_at is None:
        return
    periodic.schedule_once(f"purge-report-{run_id}", run.expires_at + timedelta(seconds=5),
                           "portal.reports.jobs.purge_expired_reports", queue=QUEUE)


# -- the monthly report --------------------------------------------------------------------------

def previous_month(today: date) -> tuple[date, date]:
    first_of_this = today.replace(day=1)
    last_of_previous = first_of_this - timedelta(days=1)
    return last_of_previous.replace(day=1), last_of_previous


def first_of_next_month(now: datetime) -> datetime:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, 1, 0)  # 01:00 UTC, after the day's last consultations are billed


def queue_monthly_reports(today: date) -> list[int]:
    """Ask for last month's report of every insurer, once per insurer and month; returns the new runs' ids."""
    start, end = previous_month(today)
    created = []
    for insurer_id in db.session.scalars(select(Insurer.id).order_by(Insurer.id)):
        run = ReportRun(insurer_id=insurer_id, period_start=start, period_end=end,
                        monthly_key=f"monthly:{insurer_id}:{start:%Y-%m}")
        try:
            with db.session.begin_nested():
                db.session.add(run)
                db.session.flush()
        except IntegrityError:
            continue  # this month's report of this insurer was already asked for
        audit.record("insurer_report.requested", subject=run, insurer_id=insurer_id, monthly=True,
                     actor=results.REPORTING_JOB)
        created.append(run)
    db.session.commit()
    for run in created:
        enqueue_build(run)
    return [run.id for run in created]


def schedule_next_monthly(now: datetime) -> datetime:
    """Put the next monthly run in RQ's schedule; its job id names the month, so it is there once."""
    when = first_of_next_month(now)
    periodic.schedule_once(f"monthly-reports-{when:%Y-%m}", when, "portal.reports.jobs.monthly_reports", queue=QUEUE)
    return when
