"""Dashboard figures for secretaries and admins: aggregates over a period, never a patient.

Days are the clinic's days (CLINIC_TIME_ZONE), not UTC's: a referral at 23:30 UTC in summer arrived at 01:30
the next day in Oslo. So the period's bounds are the UTC instants of the clinic's midnights, and rows are put
on their local day here, in Python, from their timestamps (SQL's date() of a UTC timestamp would give the UTC
day, and SQLite has no time zones). Medians and 90th percentiles are worked out here too, because SQLite has
no percentile function; the period is capped (DASHBOARD_MAX_DAYS), which bounds the rows read.
"""

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from portal.consultations import results
from portal.consultations.models import COMPLETED, STATE_LABELS, STATES, Consultation
from portal.extensions import db
from portal.referrals.models import Referral
from portal.travel_pay.models import STATUS_LABELS as TRAVEL_CLAIM_LABELS, TravelClaim

UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Period:
    """Whole days from `since` to `until`, both included, as the clinic's calendar has them (`zone`)."""

    since: date
    until: date
    zone: ZoneInfo = UTC

    def _midnight(self, day: date) -> datetime:
        """The clinic's midnight at the start of `day`, as the naive UTC the database stores."""
        return datetime.combine(day, time.min, self.zone).astimezone(timezone.utc).replace(tzinfo=None)

    @property
    def start(self) -> datetime:
        return self._midnight(self.since)

    @property
    def end(self) -> datetime:
        return self._midnight(self.until + timedelta(days=1))

    def day_of(self, moment: datetime) -> date:
        """The clinic's day a stored (naive UTC) moment falls on."""
        return moment.replace(tzinfo=timezone.utc).astimezone(self.zone).date()

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


@dataclass(frozen=True)
class DailySpread:
    """Median and 90th percentile of a duration on one day, in minutes, and how many it covers."""

    day: date
    count: int
    median: float
    p90: float


def last_days(today: date, days: int = 30, zone: ZoneInfo = UTC) -> Period:
    return Period(today - timedelta(days=days - 1), today, zone)


def today_in(zone: ZoneInfo, now: datetime) -> date:
    """The clinic's date at a stored (naive UTC) moment."""
    return now.replace(tzinfo=timezone.utc).astimezone(zone).date()


def daily_referrals(period: Period) -> list[tuple[date, int]]:
    """Referrals received on each of the clinic's days of the period, days without any included as 0."""
    received = db.session.scalars(
        select(Referral.received_at).where(Referral.received_at >= period.start, Referral.received_at < period.end))
    counts = Counter(period.day_of(moment) for moment in received)
    return [(d, counts.get(d, 0)) for d in period.days()]


def consultations_by_state(period: Period) -> list[tuple[str, int]]:
    """Consultations created in the period, by their state now, in the order of the workflow."""
    rows = db.session.execute(
        select(Consultation.state, func.count()).where(Consultation.created_at >= period.start,
                                                       Consultation.created_at < period.end)
        .group_by(Consultation.state)).all()
    counts = dict(rows)
    return [(str(STATE_LABELS[state]), counts.get(state, 0)) for state in STATES]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between the nearest ranks (what numpy and spreadsheets call inclusive)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _spread_by_day(pairs) -> list[DailySpread]:
    by_day: dict[date, list[float]] = {}
    for day, seconds in pairs:
        by_day.setdefault(day, []).append(seconds / 60)
    out = []
    for day in sorted(by_day):
        minutes = sorted(by_day[day])
        out.append(DailySpread(day, len(minutes), round(statistics.median(minutes), 1),
                               round(percentile(minutes, 0.9), 1)))
    return out


def waiting_times(period: Period) -> list[DailySpread]:
    """Waiting time (creation until the doctor started) of consultations started, by day of creation."""
    rows = db.session.execute(
        select(Consultation.created_at, Consultation.starts_at).where(
            Consultation.created_at >= period.start, Consultation.created_at < period.end,
            Consultation.starts_at.is_not(None)))
    return _spread_by_day((period.day_of(created), (started - created).total_seconds()) for created, started in rows)


def treatment_durations(period: Period) -> list[DailySpread]:
    """Time from start to end of completed consultations, by the day they started."""
    rows = db.session.execute(
        select(Consultation.starts_at, Consultation.ends_at).where(
            Consultation.state == COMPLETED, Consultation.starts_at >= period.start,
            Consultation.starts_at < period.end, Consultation.ends_at.is_not(None)))
    return _spread_by_day((period.day_of(started), (ended - started).total_seconds()) for started, ended in rows)


def outcomes(period: Period) -> list[tuple[str, int]]:
    """Reports filed in the period by outcome. Opens sealed outcomes: one audited batch read."""
    counts = results.count_outcomes(period.start, period.end)
    return [(str(label), counts.get(key, 0)) for key, label in results.OUTCOMES.items()]


def travel_claim_outcomes(period: Period) -> list[tuple[str, int]]:
    """Travel claims made in the period, by their status now (every status listed, zeros included)."""
    counts = dict(db.session.execute(
        select(TravelClaim.status, func.count()).where(TravelClaim.created_at >= period.start,
                                                       TravelClaim.created_at < period.end)
        .group_by(TravelClaim.status)).all())
    return [(str(label), counts.get(status, 0)) for status, label in TRAVEL_CLAIM_LABELS.items()]
