"""Helpers for report tests: consultations and reports at given times, and the reports queue worked
in this process. The browser tests of the dashboards and reports use them too."""

from datetime import timedelta

from rq import Queue, SimpleWorker
from sqlalchemy import update

from portal.consultations.models import COMPLETED, IN_PROGRESS, Consultation, ConsultationResult
from portal.extensions import db, worker_redis
from tests.conftest import make_consultation, make_staff


def consultation_at(app, patient_id, created, waited_minutes=None, treated_minutes=None, state=None):
    cid = make_consultation(app, patient_id)
    values = {"created_at": created}
    if waited_minutes is not None:
        values.update(starts_at=created + timedelta(minutes=waited_minutes), state=IN_PROGRESS)
    if treated_minutes is not None:
        values.update(ends_at=values["starts_at"] + timedelta(minutes=treated_minutes), state=COMPLETED)
    if state:
        values["state"] = state
    with app.app_context():
        db.session.execute(update(Consultation).where(Consultation.id == cid).values(**values))
        db.session.commit()
    return cid


def filed_report(app, cid, outcome, filed):
    doctor_id = make_staff(app, "doctor", "report-author@test.example")
    with app.app_context():
        db.session.add(ConsultationResult(consultation_id=cid, author_id=doctor_id, icpc2_code="R74", outcome=outcome,
                                          created_at=filed))
        db.session.commit()


def run_report_jobs(app) -> None:
    """Work the reports queue until it is empty, in this process (like `flask worker --burst`)."""
    with app.app_context():
        connection = worker_redis()
        SimpleWorker([Queue("reports", connection=connection)], connection=connection).work(
            burst=True, with_scheduler=False)
        db.session.remove()
