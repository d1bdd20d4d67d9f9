"""The doctor's report on a consultation: a medical record, sealed field by field.

Filing and reading are services; who may do either is decided in portal/security/policy.py.
Every read writes an audit event.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.exc import IntegrityError

from portal.consultations import icpc2
from portal.consultations.models import COMPLETED, Consultation, ConsultationResult
from portal.consultations.services import InvalidConsultation, NotAllowedNow
from portal.extensions import db
from portal.patients.identifiers import InvalidIdentifier, normalise_fodselsnummer
from portal.security import audit, crypto

OUTCOMES = {
    "helped": _l("Helped"),
    "referred_gp": _l("Referred to GP"),
    "referred_specialist": _l("Referred to specialist"),
    "referred_emergency": _l("Referred to emergency"),
    "prescription": _l("Prescription given"),
    "follow_up": _l("Follow-up needed"),
    "unable": _l("Unable to help"),
    "no_show": _l("Patient did not attend"),
}
REPORTING_JOB = ("system", "reporting-job")


@dataclass(frozen=True)
class ReportIn:
    icpc2_code: str
    outcome: str
    patient_national_id: str | None = None
    job_description: str | None = None
    policy_number: str | None = None
    notes: str | None = None


def validate_report(report: ReportIn) -> dict[str, str]:
    """Field name → error, empty when the report may be filed."""
    errors = {}
    if icpc2.normalise(report.icpc2_code) is None:
        errors["icpc2_code"] = _l("Choose a code from the ICPC-2 list.")
    if report.outcome not in OUTCOMES:
        errors["outcome"] = _l("Choose an outcome.")
    if report.patient_national_id:
        try:
            normalise_fodselsnummer(report.patient_national_id.strip())
        except InvalidIdentifier as exc:
            errors["patient_national_id"] = _l("The national id %(problem)s.", problem=exc)
    return errors


def file_report(consultation: Consultation, report: ReportIn, *, author_id: int) -> ConsultationResult:
    """Store the report of a completed consultation, once."""
    if consultation.state != COMPLETED:
        raise NotAllowedNow(_("The report is filed after the consultation is finished."))
    errors = validate_report(report)
    if errors:
        raise InvalidConsultation("; ".join(map(str, errors.values())))

    def clean(value):
        return (value or "").strip() or None

    result = ConsultationResult(
        consultation_id=consultation.id, author_id=author_id, icpc2_code=icpc2.normalise(report.icpc2_code),
        outcome=report.outcome,
        patient_national_id=normalise_fodselsnummer(report.patient_national_id.strip())
        if clean(report.patient_national_id) else None,
        job_description=clean(report.job_description), policy_number=clean(report.policy_number),
        notes=clean(report.notes),
    )
    try:
        with db.session.begin_nested():
            db.session.add(result)
    except IntegrityError:
        db.session.rollback()
        raise NotAllowedNow(_("A report for this consultation has already been filed.")) from None
    audit.record("consultation_result.filed", subject=result, patient_id=consultation.patient_id,
                 consultation_id=consultation.id, actor=("staff", str(author_id)))
    db.session.commit()
    return result


def result_of(consultation: Consultation) -> ConsultationResult | None:
    """The report row without opening it: use `read_report` to look inside (that is audited)."""
    return db.session.scalar(select(ConsultationResult).where(ConsultationResult.consultation_id == consultation.id))


def read_report(result: ConsultationResult, *, actor: tuple[str, str | None], patient_id: int, **details) -> dict:
    """The report's fields in the clear; audited (with `details`, e.g. the reader's reason). The caller
    has asked the policy first."""
    audit.record_read("consultation_result.read", subject=result, patient_id=patient_id, actor=actor, **details)
    return {
        "icpc2_code": result.icpc2_code,
        "icpc2_title": icpc2.codes().get(result.icpc2_code, ""),
        "outcome": result.outcome,
        "outcome_label": str(OUTCOMES.get(result.outcome, result.outcome)),
        "patient_national_id": result.patient_national_id,
        "job_description": result.job_description,
        "policy_number": result.policy_number,
        "notes": result.notes,
        "author": result.author.name if result.author else None,
        "created_at": result.created_at,
    }


def read_reports_for_reporting() -> list[dict]:
    """What the insurer report job reads: every report, each read audited as the reporting job."""
    rows = db.session.scalars(select(ConsultationResult).order_by(ConsultationResult.id)).all()
    out = []
    for result in rows:
        consultation = db.session.get(Consultation, result.consultation_id)
        out.append({"consultation_code": consultation.code,
                    **read_report(result, actor=REPORTING_JOB, patient_id=consultation.patient_id)})
    return out


def read_results_for_insurer_report(consultations: list[tuple[int, int]], *, report_run_id: int) -> dict[int, dict]:
    """The sealed fields the insurer report shows, for a batch of (consultation id, patient id).

    One audit event per consultation read (as the reporting job, naming the report run), all
    committed in one transaction before anything is handed back: a batch of 1,000 costs one commit,
    not 1,000. Consultations without a report still have their policy number read (direct flow).
    """
    ids = [cid for cid, _ in consultations]
    if not ids:
        return {}
    results = {r.consultation_id: r for r in db.session.scalars(
        select(ConsultationResult).where(ConsultationResult.consultation_id.in_(ids)))}
    policies = dict(db.session.execute(select(Consultation.id, Consultation.policy_number)
                                       .where(Consultation.id.in_(ids))).all())
    db.session.commit()  # end the read transaction before the audited write (see audit.record_read)
    out = {}
    for cid, patient_id in consultations:
        result = results.get(cid)
        audit.record("consultation_result.read", subject=result, patient_id=patient_id, actor=REPORTING_JOB,
                     consultation_id=cid, report_run_id=report_run_id)
        out[cid] = {
            "icpc2_code": result.icpc2_code if result else None,
            "outcome": result.outcome if result else None,
            "outcome_label": str(OUTCOMES.get(result.outcome, result.outcome)) if result else None,
            "policy_number": (result.policy_number if result else None) or policies.get(cid),
        }
    db.session.commit()
    return out


def count_outcomes(since: datetime, until: datetime, *, actor: tuple[str, str | None] | None = None) -> dict[str, int]:
    """How many reports filed in [since, until) have each outcome: totals only, for dashboards.

    Counting opens every sealed outcome in the period, so it is one audited read of the batch
    (one event with the period and the number of reports), not one event per report. Only the
    outcome column is read; no other field of any report is opened.
    """
    # Read as plain text and opened in one batch: the column type would look up the keys per row.
    sealed = db.session.scalars(select(type_coerce(ConsultationResult.outcome, Text)).where(
        ConsultationResult.created_at >= since, ConsultationResult.created_at < until))
    counts = Counter(crypto.decrypt_many(sealed, "result.outcome"))
    audit.record_read("consultation_result.outcomes_counted", actor=actor, since=since.isoformat(),
                      until=until.isoformat(), reports=sum(counts.values()))
    return dict(counts)
