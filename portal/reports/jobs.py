"""RQ entry points on queue `reports`. Workers run inside the app context (`flask worker`)."""

import logging

import redis

from portal.reports import insurer_report
from portal.security.models import utcnow

log = logging.getLogger(__name__)


def build_insurer_report(run_id: int) -> str:
    """Build one insurer report; a failure is recorded on the run, where the requester sees it."""
    insurer_report.purge_expired_reports()
    try:
        outcome = insurer_report.build_report(run_id)
    except Exception as exc:
        insurer_report.mark_failed(run_id, exc)
        raise
    insurer_report.schedule_purge(run_id)
    return outcome


def purge_expired_reports() -> int:
    return insurer_report.purge_expired_reports()


def monthly_reports() -> list[int]:
    """On the 1st: last month's report for every insurer, then the next month's run goes in the schedule."""
    now = utcnow()
    created = insurer_report.queue_monthly_reports(now.date())
    insurer_report.purge_expired_reports()
    insurer_report.schedule_next_monthly(now)
    return created


def ensure_monthly_reports() -> None:
    """At worker start: catch up on a month the worker missed, and make sure the next one is scheduled."""
    try:
        monthly_reports()
    except redis.RedisError:
        log.warning("could not schedule the monthly insurer reports")
