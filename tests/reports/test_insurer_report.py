"""The insurer report: asked for on a page, built by the RQ job, kept sealed, downloaded (audited), expired."""

import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select, text, update

from portal.extensions import db, redis_client
from portal.orders import services as orders
from portal.orders.models import Order
from portal.reports import insurer_report
from portal.reports.models import ReportRun
from portal.security.crypto import key_ring
from portal.security.key_rotation import encrypted_tables
from portal.security.models import AuditEvent, utcnow
from tests.conftest import make_patient, make_staff
from tests.orders.fixtures import make_insurer, serve_consultation
from tests.reports.conftest import run_report_jobs

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def served(app):
    """Three consultations served for the insurer in March 2026 (one with a discount, one without a
    report filed), one in April, and one for another insurer in March."""
    insurer_id = make_insurer(app)
    other = make_insurer(app, name="Nordlys Helse", org_number="912345678", is_default=False)
    doctor = make_staff(app, "doctor")
    patient = make_patient(app)
    march = [
        serve_consultation(app, patient, ended=datetime(2026, 3, 2, 10), author_id=doctor, outcome="helped",
                           icpc2="R74", policy_number="POL-1111"),
        serve_consultation(app, patient, ended=datetime(2026, 3, 15, 12), channel="PHONE", author_id=doctor,
                           outcome="referred_gp", icpc2="L03", policy_number="POL-2222"),
        serve_consultation(app, patient, ended=datetime(2026, 3, 31, 23, 30)),
    ]
    serve_consultation(app, patient, ended=datetime(2026, 4, 1, 0, 10), author_id=doctor)
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.consultation_id == march[0]))
        orders.change_line_discount(order, order.lines[0].id, Decimal("0.1"), by_id=doctor)
        db.session.execute(update(Order).where(Order.consultation_id == march[1]).values(insurer_id=other))
        db.session.commit()
    return {"insurer_id": insurer_id, "other": other, "march": march, "doctor": doctor}


def ask(c, insurer_id, since="2026-03-01", until="2026-03-31"):
    return c.post("/reports/insurer", data={"csrf_token": c.csrf, "insurer": insurer_id, "since": since,
                                            "until": until})


def run_id_of(response) -> int:
    return int(re.search(r"/reports/insurer/runs/(\d+)$", response.headers["Location"]).group(1))


def test_reporting_asks_for_a_report_watches_it_and_downloads_the_workbook(app, staff_client, served):
    c = staff_client("reporting")
    assert "Build report" in c.get("/reports/insurer").get_data(as_text=True)
    response = ask(c, served["insurer_id"])
    assert response.status_code == 303
    run_id = run_id_of(response)
    # Before a worker took it, the page shows progress and polls itself every second.
    fragment = c.get(f"/reports/insurer/runs/{run_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Waiting for a worker" in fragment and 'hx-trigger="every 1s"' in fragment and "<html" not in fragment
    assert c.get(f"/reports/insurer/runs/{run_id}/download").status_code == 404

    run_report_jobs(app)

    fragment = c.get(f"/reports/insurer/runs/{run_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in fragment and f"/reports/insurer/runs/{run_id}/download" in fragment
    assert "Ready: 2 consultations" in fragment
    download = c.get(f"/reports/insurer/runs/{run_id}/download")
    assert download.status_code == 200 and download.mimetype == XLSX
    assert download.headers["Cache-Control"] == "no-store"
    workbook = load_workbook(io.BytesIO(download.data))
    assert workbook.sheetnames == ["Consultations", "Summary"]
    rows = list(workbook["Consultations"].iter_rows(values_only=True))
    heading, first, third = rows[0], rows[1], rows[2]
    assert heading[:3] == ("Consultation", "Order", "Created") and heading[-3:] == ("Price", "Discount", "Total")
    assert len(rows) == 3  # the April one and the other insurer's are not in it
    record = dict(zip(heading, first))
    # The clinic's wall clock (CLINIC_TIME_ZONE, Europe/Oslo: CET in March), not UTC's 09:20 and 10:00.
    assert record["Created"] == datetime(2026, 3, 2, 10, 20) and record["Ended"] == datetime(2026, 3, 2, 11)
    assert record["Waiting time"] == timedelta(minutes=15) and record["Treatment duration"] == timedelta(minutes=25)
    assert (record["Channel"], record["ICPC-2"], record["Outcome"], record["Policy number"]) == (
        "VIDEO", "R74", "Helped", "POL-1111")
    assert (record["Price"], record["Discount"], record["Total"]) == (650, 0.1, 585)
    unreported = dict(zip(heading, third))
    assert unreported["ICPC-2"] is None and unreported["Total"] == 650
    sheet = workbook["Consultations"]
    assert sheet["L2"].number_format == "#,##0.00" and sheet["F2"].number_format == "[h]:mm:ss"
    assert sheet["C2"].number_format == "yyyy-mm-dd hh:mm" and sheet["M2"].number_format == "0.00%"
    assert sheet.column_dimensions["J"].width == 26
    summary = {row[0]: row[1:] for row in workbook["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Consultations"][0] == 2 and summary["Total"][0] == 1235 and summary["Discount"][0] == 65
    assert summary["Helped"][:2] == (1, 585) and summary["No report filed"][:2] == (1, 650)
    assert summary["VIDEO"][:2] == (2, 1235)


def test_every_download_and_every_read_report_is_audited(app, staff_client, served):
    c = staff_client("reporting")
    run_id = run_id_of(ask(c, served["insurer_id"]))
    run_report_jobs(app)
    for _ in range(2):
        assert c.get(f"/reports/insurer/runs/{run_id}/download").status_code == 200
    with app.app_context():
        downloads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "insurer_report.downloaded")).all()
        assert len(downloads) == 2 and {e.subject_id for e in downloads} == {str(run_id)}
        assert downloads[0].actor_type == "staff"
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "consultation_result.read")).all()
        assert sorted(e.details["consultation_id"] for e in reads) == [served["march"][0], served["march"][2]]
        assert {(e.actor_type, e.actor_id, e.details["report_run_id"]) for e in reads} == {
            ("system", "reporting-job", run_id)}
        assert all(e.patient_id for e in reads)


def test_the_stored_file_is_sealed_not_a_workbook(app, staff_client, served):
    c = staff_client("reporting")
    run_id = run_id_of(ask(c, served["insurer_id"]))
    run_report_jobs(app)
    with app.app_context():
        stored = db.session.execute(text("SELECT file FROM report_runs WHERE id = :id"), {"id": run_id}).scalar()
        assert stored.partition(":")[0] in key_ring().keys  # "<key id>:<sealed>"
        # Key rotation walks every sealed column, so it re-seals report files too.
        assert "report_runs" in {t.name for t in encrypted_tables()}
    for plaintext in ("UEsDB", "PK\x03\x04", "POL-1111", "Danser", "Line"):  # base64 and raw zip signature
        assert plaintext not in stored
    assert c.get(f"/reports/insurer/runs/{run_id}/download").data.startswith(b"PK\x03\x04")


def test_an_expired_report_is_404_and_its_file_is_purged(app, staff_client, served):
    c = staff_client("reporting")
    run_id = run_id_of(ask(c, served["insurer_id"]))
    run_report_jobs(app)
    with app.app_context():
        run = db.session.get(ReportRun, run_id)
        assert timedelta(hours=23, minutes=59) < run.expires_at - run.finished_at <= timedelta(hours=24)
        db.session.execute(update(ReportRun).where(ReportRun.id == run_id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert c.get(f"/reports/insurer/runs/{run_id}/download").status_code == 404
    with app.app_context():
        assert insurer_report.purge_expired_reports() == 1
        run = db.session.get(ReportRun, run_id, populate_existing=True)
        assert run.status == "expired" and run.file is None
        # The purge is also in RQ's schedule for the moment the file expires.
        assert f"purge-report-{run_id}" in ScheduledJobRegistry("reports", connection=redis_client()).get_job_ids()
    assert "has expired" in c.get(f"/reports/insurer/runs/{run_id}").get_data(as_text=True)


def test_building_a_finished_report_again_changes_nothing(app, staff_client, served):
    c = staff_client("reporting")
    run_id = run_id_of(ask(c, served["insurer_id"]))
    run_report_jobs(app)
    with app.app_context():
        before = db.session.get(ReportRun, run_id).file
        assert insurer_report.build_report(run_id) == "nothing to do"
        assert db.session.get(ReportRun, run_id, populate_existing=True).file == before


def test_a_report_with_no_consultations_still_has_a_summary(app, staff_client, served):
    c = staff_client("admin")
    run_id = run_id_of(ask(c, served["insurer_id"], since="2025-01-01", until="2025-01-31"))
    run_report_jobs(app)
    data = c.get(f"/reports/insurer/runs/{run_id}/download").data
    workbook = load_workbook(io.BytesIO(data))
    assert len(list(workbook["Consultations"].iter_rows())) == 1
    assert ("Consultations", 0) in [row[:2] for row in workbook["Summary"].iter_rows(values_only=True)]


@pytest.mark.parametrize("form, message", [
    ({"insurer": ""}, "Choose an insurer."),
    ({"insurer": "424242"}, "Not a valid choice."),
    ({"since": ""}, "Enter the first day of the period."),
    ({"since": "2026-04-01", "until": "2026-03-01"}, "Must not be before the start date."),
    ({"since": "2024-01-01", "until": "2026-03-01"}, "A report covers at most 366 days."),
    ({"until": "31.03.2026"}, "Not a valid date value."),
])
def test_a_bad_request_is_a_form_error_and_queues_nothing(app, staff_client, served, form, message):
    c = staff_client("reporting")
    data = {"csrf_token": c.csrf, "insurer": served["insurer_id"], "since": "2026-03-01", "until": "2026-03-31",
            **form}
    response = c.post("/reports/insurer", data=data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReportRun)) == 0
        assert Queue("reports", connection=redis_client()).count == 0


def test_a_request_without_the_form_token_is_refused(app, staff_client, served):
    c = staff_client("reporting")
    response = c.post("/reports/insurer", data={"insurer": served["insurer_id"], "since": "2026-03-01",
                                                "until": "2026-03-31"})
    assert response.status_code == 400


@pytest.mark.parametrize("role", ["doctor", "secretary"])
def test_only_reporting_and_admins_reach_insurer_reports(app, staff_client, served, role):
    reporting = staff_client("reporting")
    run_id = run_id_of(ask(reporting, served["insurer_id"]))
    run_report_jobs(app)
    c = staff_client(role)
    assert c.get("/reports/insurer").status_code == 403
    assert ask(c, served["insurer_id"]).status_code == 403
    assert c.get(f"/reports/insurer/runs/{run_id}").status_code == 403
    assert c.get(f"/reports/insurer/runs/{run_id}/download").status_code == 403
    assert staff_client("admin").get(f"/reports/insurer/runs/{run_id}/download").status_code == 200


def test_an_unknown_run_is_404(app, staff_client):
    c = staff_client("reporting")
    assert c.get("/reports/insurer/runs/424242").status_code == 404
    assert c.get("/reports/insurer/runs/424242/download").status_code == 404


def test_a_failed_build_is_shown_on_the_run(app, staff_client, served, monkeypatch):
    c = staff_client("reporting")
    run_id = run_id_of(ask(c, served["insurer_id"]))

    def broken_workbook(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(insurer_report, "Workbook", broken_workbook)  # a failure we cannot cause otherwise
    run_report_jobs(app)
    page = c.get(f"/reports/insurer/runs/{run_id}").get_data(as_text=True)
    assert "could not be built (OSError)" in page and "disk full" not in page
    assert c.get(f"/reports/insurer/runs/{run_id}/download").status_code == 404


# -- the monthly report -----------------------------------------------------------------------

def test_the_monthly_job_asks_once_per_insurer_and_month(app, served):
    from portal.reports import jobs

    with app.app_context():
        first = insurer_report.queue_monthly_reports(date(2026, 4, 1))
        again = insurer_report.queue_monthly_reports(date(2026, 4, 17))
        assert len(first) == 2 and again == []
        runs = db.session.scalars(select(ReportRun).order_by(ReportRun.insurer_id)).all()
        assert [(r.insurer_id, r.period_start, r.period_end) for r in runs] == [
            (served["insurer_id"], date(2026, 3, 1), date(2026, 3, 31)),
            (served["other"], date(2026, 3, 1), date(2026, 3, 31))]
        assert Queue("reports", connection=redis_client()).count == 2
        jobs.monthly_reports()  # today's month: one more run per insurer, for last month
        assert db.session.scalar(select(func.count()).select_from(ReportRun)) == 4
        jobs.monthly_reports()
        assert db.session.scalar(select(func.count()).select_from(ReportRun)) == 4
    run_report_jobs(app)
    with app.app_context():
        march_key = f"monthly:{served['insurer_id']}:2026-03"
        march = db.session.scalar(select(ReportRun).where(ReportRun.monthly_key == march_key))
        assert march.status == "done" and march.rows_done == 2 and march.requested_by_id is None


def test_the_next_monthly_run_is_scheduled_once_for_the_first_of_next_month(app):
    with app.app_context():
        for _ in range(3):
            when = insurer_report.schedule_next_monthly(datetime(2026, 12, 20, 8))
        assert when == datetime(2027, 1, 1, 1, 0)
        registry = ScheduledJobRegistry("reports", connection=redis_client())
        assert [j for j in registry.get_job_ids() if j.startswith("monthly-reports-")] == ["monthly-reports-2027-01"]
        assert registry.get_scheduled_time("monthly-reports-2027-01").replace(tzinfo=None) == when


@pytest.mark.parametrize("today, period", [
    (date(2026, 1, 1), (date(2025, 12, 1), date(2025, 12, 31))),
    (date(2026, 3, 1), (date(2026, 2, 1), date(2026, 2, 28))),
    (date(2028, 3, 15), (date(2028, 2, 1), date(2028, 2, 29))),
])
def test_last_month_is_a_calendar_month(today, period):
    assert insurer_report.previous_month(today) == period


def test_the_workbook_speaks_the_askers_language_and_the_clinics_time(app, staff_client, served):
    """Headers in bokmål for a reporting user who reads bokmål; a consultation that ended at 23:30 UTC on
    4 June is written as 01:30 on 5 June, the clinic's (Oslo's, CEST) wall clock."""
    from portal.security.models import StaffUser

    doctor = served["doctor"]
    with app.app_context():
        patient = make_patient(app, fnr="01018012371")
    june = serve_consultation(app, patient, ended=datetime(2026, 6, 4, 23, 30), author_id=doctor, outcome="helped")
    c = staff_client("reporting")
    with app.app_context():
        db.session.execute(update(StaffUser).where(StaffUser.role == "reporting").values(language="nb"))
        db.session.commit()
    run_id = run_id_of(ask(c, served["insurer_id"], since="2026-06-01", until="2026-06-30"))
    run_report_jobs(app)
    workbook = load_workbook(io.BytesIO(c.get(f"/reports/insurer/runs/{run_id}/download").data))
    assert workbook.sheetnames == ["Konsultasjoner", "Sammendrag"]
    rows = list(workbook["Konsultasjoner"].iter_rows(values_only=True))
    heading = rows[0]
    assert heading[:3] == ("Konsultasjon", "Ordre", "Opprettet") and heading[-1] == "Totalt"
    record = dict(zip(heading, rows[1]))
    assert record["Avsluttet"] == datetime(2026, 6, 5, 1, 30)
    assert record["Utfall"] == "Hjulpet"
    summary = [row for row in workbook["Sammendrag"].iter_rows(values_only=True) if row and row[0]]
    assert ("Tidene er klinikkens (Europe/Oslo)",) == summary[4][:1]
    assert june
