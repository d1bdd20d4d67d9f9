from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.security.crypto import EncryptedText
from portal.security.models import utcnow

QUEUED, RUNNING, DONE, FAILED, EXPIRED = "queued", "running", "done", "failed", "expired"


class ReportRun(db.Model):
    """One insurer report: who asked, for which insurer and period, how far the job is, and the file.

    The xlsx is kept sealed in `file` (base64 inside the EncryptedText), so it is encrypted at rest
    and key rotation re-seals it with every other encrypted column. It is emptied when it expires.
    """

    __tablename__ = "report_runs"
    __table_args__ = (Index("ix_report_runs_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # "monthly:<insurer id>:<YYYY-MM>" for the scheduled reports: one per insurer and month, however
    # often the monthly job runs.
    monthly_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_total: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    file = mapped_column(EncryptedText("report_run.file"), nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    insurer = relationship("Insurer")
    requested_by = relationship("StaffUser")

    @property
    def percent(self) -> int:
        if self.status == DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
