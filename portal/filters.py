"""Jinja filters for showing times to people."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app

from portal.security.models import utcnow


def age(moment: datetime | None) -> str:
    """'3 min ago', '2 h 5 min ago', '4 days ago'."""
    if moment is None:
        return ""
    minutes = int((utcnow() - moment).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min ago"
    days = hours // 24
    return f"{days} day{'s' if days != 1 else ''} ago"


def duration(span: timedelta | None) -> str:
    """'under a minute', '12 min', '1 h 5 min', '2 days 3 h'."""
    if span is None:
        return ""
    minutes = max(int(span.total_seconds() // 60), 0)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} day{'s' if days != 1 else ''} {hours} h"


def long_date(day: date | None) -> str:
    """'7 February 2030' (no leading zero)."""
    if day is None:
        return ""
    return f"{day.day} {day:%B %Y}"


def clinic_day(moment: datetime | None) -> str:
    """The day a UTC time falls on in the clinic's time zone (CLINIC_TIME_ZONE), as long_date says it."""
    if moment is None:
        return ""
    zone = ZoneInfo(current_app.config["CLINIC_TIME_ZONE"])
    return long_date(moment.replace(tzinfo=timezone.utc).astimezone(zone).date())


def init_app(app):
    app.jinja_env.filters["age"] = age
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["clinic_day"] = clinic_day
