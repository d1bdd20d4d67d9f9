"""Browsing the audit log: filters and pages. Read-only; callers audit the browsing itself."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.security.models import AuditEvent, StaffUser

PAGE_SIZE = 50
MAX_PAGE = 10_000


@dataclass(frozen=True)
class AuditFilter:
    staff_id: int | None = None
    patient_id: int | None = None
    action: str | None = None  # prefix, e.g. "consultation_result." or an exact action
    about_patients: bool = False  # only events that concern a patient
    since: date | None = None
    until: date | None = None  # inclusive


@dataclass
class AuditPage:
    rows: list[tuple[AuditEvent, str | None]]  # event and the staff member's name
    page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _where(f: AuditFilter):
    conditions = []
    if f.staff_id is not None:
        conditions += [AuditEvent.actor_type == "staff", AuditEvent.actor_id == str(f.staff_id)]
    if f.patient_id is not None:
        conditions.append(AuditEvent.patient_id == f.patient_id)
    if f.action:
        escaped = f.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(AuditEvent.action.like(escaped + "%", escape="\\"))
    if f.about_patients:
        conditions.append(AuditEvent.patient_id.is_not(None))
    if f.since:
        conditions.append(AuditEvent.at >= datetime.combine(f.since, time.min))
    if f.until:
        conditions.append(AuditEvent.at < datetime.combine(f.until + timedelta(days=1), time.min))
    return conditions


def search(f: AuditFilter, page: int = 1) -> AuditPage:
    page = min(max(page, 1), MAX_PAGE)
    conditions = _where(f)
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    staff_name = (select(StaffUser.name)
                  .where(AuditEvent.actor_type == "staff",
                         func.cast(StaffUser.id, db.String) == AuditEvent.actor_id)
                  .correlate(AuditEvent).scalar_subquery())
    rows = db.session.execute(
        select(AuditEvent, staff_name).where(*conditions)
        .order_by(AuditEvent.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return AuditPage(rows=[(r[0], r[1]) for r in rows], page=page, total=total)


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def staff_choices() -> list[tuple[int, str]]:
    return [(u.id, f"{u.name} ({u.role})") for u in db.session.scalars(select(StaffUser).order_by(StaffUser.name))]
