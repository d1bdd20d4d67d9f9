"""How dates, times, numbers and money are written: by Babel, for the request's language and region, and
in the time zone of the place where the care happens. Templates use the filters (`init_app`); services
writing a text message call the functions inside `languages.speaking(...)`.

Times are stored in UTC (naive datetimes are UTC). A time is shown in the zone of its place — the clinic,
the service — with the zone's abbreviation when that differs from the viewer's zone (the install's,
`PORTAL_TIME_ZONE`), so a London diary read in Oslo says "09:00 GMT", never a bare "09:00" that means
something else where the reader is.
"""

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import cache, lru_cache, partial
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time, get_date_format, get_datetime_format, get_time_format
from babel.numbers import format_currency, format_decimal, format_percent
from flask import current_app, g, has_app_context
from flask_babel import get_locale, get_translations, gettext as _, ngettext
from markupsafe import Markup, escape

from portal.security.models import utcnow

DAY_FORMS = ("short", "medium", "long", "full")


def zone(name: str | ZoneInfo | None) -> ZoneInfo:
    """An IANA zone by name (the install's zone for None); ZoneInfo objects are passed through."""
    if isinstance(name, ZoneInfo):
        return name
    # None is looked up each time: cached, it kept the zone of the first call's install for the process.
    return _zone_named(name or current_app.config["PORTAL_TIME_ZONE"])


@lru_cache(maxsize=128)
def _zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def viewer_zone() -> ZoneInfo:
    return zone(current_app.config["PORTAL_TIME_ZONE"])


def in_zone(moment: datetime, where=None) -> datetime:
    """The stored moment (naive = UTC) as wall-clock time where it happens."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone(where))


def _locale():
    # The locale Flask-Babel keeps for this request (or `force_locale`'s), read through one proxy instead of
    # three: a list formats a time or two per row. Flask-Babel's own look-up while none is chosen yet.
    babel_context = getattr(g._get_current_object(), "_flask_babel", None) if has_app_context() else None
    return getattr(babel_context, "babel_locale", None) or get_locale()


def _locale_name() -> str | None:
    locale = _locale()
    return None if locale is None else str(locale)


def _zone_suffix(local: datetime, where, show_zone: bool | None) -> str:
    if show_zone is None:
        show_zone = zone(where).key != viewer_zone().key
    return f" {local.tzname()}" if show_zone else ""


def clock(moment: datetime | None, where=None, show_zone: bool | None = None) -> str:
    """'09:00' (nb, en_GB) or '9:00 AM' (en_US), where it happens; '09:00 GMT' when that is not the viewer's zone."""
    if moment is None:
        return ""
    local = in_zone(moment, where)
    return _minute_text(local.hour, local.minute, _locale_name()) + _zone_suffix(local, where, show_zone)


# The caches below are keyed by the locale's name ('nb_NO'), not by Babel's Locale: Flask-Babel makes a new
# Locale each request, and looking one up in a cache ran Locale.__hash__ and __eq__ (Python, ~12 calls) for
# every time on a page, more than the rest of the look-up.
@lru_cache(maxsize=32)
def _when_patterns(locale: str) -> tuple:
    # A list writes 25 of these a page: the locale's patterns are looked up once, not three times a row.
    return (get_datetime_format("medium", locale=locale), get_date_format("medium", locale=locale),
            get_time_format("short", locale=locale))


# A list's rows share days and minutes, and Babel's pattern formatting is most of a time's cost: each day's
# and each minute's text is made once per locale. (The short time patterns show hours and minutes only.)
@lru_cache(maxsize=2048)
def _day_text(day: date, locale: str) -> str:
    return format_date(day, _when_patterns(locale)[1], locale=locale)


@lru_cache(maxsize=4096)
def _minute_text(hour: int, minute: int, locale: str) -> str:
    return format_time(time(hour, minute), _when_patterns(locale)[2], locale=locale)


def when(moment: datetime | None, where=None, show_zone: bool | None = None) -> str:
    """'7. feb. 2030, 09:05' / '7 Feb 2030, 09:05' / 'Feb 7, 2030, 9:05 AM', where it happens (+ zone, as `clock`)."""
    if moment is None:
        return ""
    local = in_zone(moment, where)
    return _when_text(local.date(), local.hour, local.minute, _locale_name()) + _zone_suffix(local, where, show_zone)


def _when_text(day: date, hour: int, minute: int, locale: str) -> str:
    return _when_patterns(locale)[0].replace("{1}", _day_text(day, locale)) \
        .replace("{0}", _minute_text(hour, minute, locale))


@lru_cache(maxsize=4096)
def _when_html(day: date, hour: int, minute: int, locale: str) -> str:
    """`_when_text` escaped for a page, made once per day, minute and locale."""
    return str(escape(_when_text(day, hour, minute, locale)))


def slot(moment: datetime | None, where=None, show_zone: bool | None = None) -> str:
    """A time to choose in a list: 'tor. 7. feb., 09:05' / 'Thu 7 Feb, 09:05', where it happens (+ zone, as `clock`)."""
    if moment is None:
        return ""
    return f"{day(moment, where, form='weekday')}, {clock(moment, where, show_zone)}"


def day(value: date | datetime | None, where=None, form: str = "long") -> str:
    """A calendar day: short '07.02.2030', medium '7. feb. 2030', long '7. februar 2030', full 'torsdag
    7. februar 2030', or 'weekday' 'tor. 7. feb.'. A datetime is first taken to the day it is where it happens."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = in_zone(value, where).date()
    if form == "weekday":
        return format_skeleton("MMMEd", value, locale=_locale())
    return format_date(value, form, locale=_locale())


def number(value, digits: int | None = None) -> str:
    """'1 234,5' (nb) / '1,234.5' (en); `digits` fixes the decimals."""
    if value is None:
        return ""
    pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_locale())


def percent(value) -> str:
    return "" if value is None else format_percent(value, locale=_locale())


def money(amount: Decimal | float | None, currency: str | None = None) -> str:
    """'1 234,50 kr' (nb_NO, NOK) / '£1,234.50' (en_GB, GBP): the install's currency unless one is given."""
    if amount is None:
        return ""
    return format_currency(amount, currency or current_app.config["PORTAL_CURRENCY"], locale=_locale())


def age(moment: datetime | None) -> str:
    """'3 min ago', '2 h 5 min ago', '4 days ago'."""
    if moment is None:
        return ""
    return _age_text(_, ngettext, int((utcnow() - moment).total_seconds() // 60))


def ages():
    """`age` for the rows of one list: the clock read once, the catalog found once and each minute's text
    made once (a list's rows share some, but on a busy queue most rows have a minute of their own, and
    finding the request's catalog for each was most of a row's text)."""
    now, text = utcnow(), cache(partial(_age_text, *_catalog_words()))

    def age_of(moment: datetime | None) -> str:
        return "" if moment is None else text(int((now - moment).total_seconds() // 60))

    return age_of


def _catalog_words():
    """gettext and ngettext bound to this request's catalog, formatting as Flask-Babel's do."""
    translations = get_translations()

    def gettext(string: str, **variables) -> str:
        text = translations.ugettext(string)
        return text % variables if variables else text

    def ngettext_(singular: str, plural: str, num: int, **variables) -> str:
        variables.setdefault("num", num)
        return translations.ungettext(singular, plural, num) % variables

    return gettext, ngettext_


def _age_text(_, ngettext, minutes: int) -> str:
    if minutes < 1:
        return _("just now")
    if minutes < 60:
        return _("%(minutes)d min ago", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(hours)d h %(minutes)d min ago", hours=hours, minutes=minutes)
    return ngettext("%(num)d day ago", "%(num)d days ago", hours // 24)


def duration(span: timedelta | None) -> str:
    """'under a minute', '12 min', '1 h 5 min', '2 days 3 h'."""
    if span is None:
        return ""
    return _duration_text(_, ngettext, max(int(span.total_seconds() // 60), 0))


def durations():
    """`duration` for the rows of one list: each minute's text made once."""
    text = cache(partial(_duration_text, *_catalog_words()))

    def duration_of(span: timedelta | None) -> str:
        return "" if span is None else text(max(int(span.total_seconds() // 60), 0))

    return duration_of


def _duration_text(_, ngettext, minutes: int) -> str:
    if minutes < 1:
        return _("under a minute")
    if minutes < 60:
        return _("%(minutes)d min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    return ngettext("%(num)d day %(hours)d h", "%(num)d days %(hours)d h", days, hours=hours)


def time_tag(moment: datetime | None, where=None, form: str = "when", show_zone: bool | None = None) -> Markup:
    """<time datetime="2030-02-07T08:05:00Z">7 Feb 2030, 09:05</time>: machine-readable UTC, people's words."""
    if moment is None:
        return Markup("")
    shown = {"when": when, "clock": clock, "slot": slot}[form](moment, where, show_zone)
    return _time_element(moment, str(escape(shown)))


def time_tags():
    """`time_tag` (as `when`, zone shown where it is not the viewer's) for the cells of one list: the
    locale, the viewer's zone and each place's zone are looked up once per list, not in every cell, and
    each minute's words come escaped from a cache (a partner's list has up to two times a row; the
    look-ups and the escaping were most of each cell's cost)."""
    locale, viewer = _locale_name(), viewer_zone().key
    places: dict = {}

    def tag(moment: datetime | None, where=None) -> Markup:
        if moment is None:
            return Markup("")
        place = places.get(where)
        if place is None:
            place = places[where] = zone(where)
        local = (moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment).astimezone(place)
        html = _when_html(local.date(), local.hour, local.minute, locale)
        if place.key != viewer:
            html += _zone_html(local.tzname())
        return _time_element(moment, html)

    return tag


@lru_cache(maxsize=256)
def _zone_html(abbreviation: str) -> str:
    return f" {escape(abbreviation)}"


def _time_element(moment: datetime, html: str) -> Markup:
    """The <time> element around `html`, text already escaped."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    utc = moment.isoformat(timespec="seconds")  # digits and separators only: nothing to escape
    return Markup(f'<time datetime="{utc}Z">{html}</time>')


def init_app(app) -> None:
    app.jinja_env.filters.update(clock=clock, when=when, day=day, slot=slot, number=number, percent=percent,
                                 money=money, age=age, duration=duration, time_tag=time_tag,
                                 long_date=lambda value: day(value, form="long"),
                                 # follow-ups: the day a moment falls on where the clinic is (CLINIC_TIME_ZONE)
                                 clinic_day=lambda moment: day(moment, app.config["CLINIC_TIME_ZONE"]))
