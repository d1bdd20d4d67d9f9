"""FHIR search parameters as the NHS Booking API's consumers send them. Pure functions, no Flask request.

What FHIR search says, and the booking pages repeat: parameters a server does not know are ignored
(and left out of the answer's self link) unless the client sends `Prefer: handling=strict`; a known
parameter with a value that cannot be read is a 400 naming it. Consumers spell the same parameter
several ways (the pages print `schedule.actor:healthcareservice`, the CapabilityStatement example
`service`; `_include`, `_include:iterate` and `_include:recurse` with `:` or `.`), so each is
accepted and read as one.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import urlencode

from portal.ids import MAX_ID
from portal.scheduling.models import SLOT_STATUSES

_ID = re.compile(r"^[0-9]{1,10}$")
# Years outside these are typos or attacks, never a clinic's diary; inside them a day's arithmetic never overflows.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
# A date, or a dateTime to the minute, second or fraction, with Z or an offset. A '+' sent unencoded in a
# query string (as the pages print it) reaches us as a space, so " 00:00" is read as "+00:00".
_DATE_TIME = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})"
                        r"(\.[0-9]{1,9})?)?(Z|[+\- ][0-9]{2}:[0-9]{2})?)?)?)?$")

SERVICE_PARAMS = ("schedule.actor:healthcareservice", "schedule.actor:HealthcareService", "service")
INCLUDE_PARAMS = ("_include", "_include:iterate", "_include:recurse")
FORMAT_PARAM = "_format"
JSON_FORMATS = ("json", "application/json", "application/fhir+json", "application/json+fhir")
XML_FORMATS = ("xml", "text/xml", "application/xml", "application/fhir+xml", "application/xml+fhir")

# Every include we answer, by its canonical name; each spelling consumers use maps to one of them.
SLOT_SCHEDULE = "Slot:schedule"
PRACTITIONER = "Schedule:actor:Practitioner"
PRACTITIONER_ROLE = "Schedule:actor:PractitionerRole"
HEALTHCARE_SERVICE = "Schedule:actor:HealthcareService"
LOCATION = "Schedule:actor:Location"
ORGANIZATION = "HealthcareService:providedBy"
SERVICE_LOCATION = "HealthcareService:location"
SLOT_INCLUDES = (SLOT_SCHEDULE, PRACTITIONER, PRACTITIONER_ROLE, HEALTHCARE_SERVICE, LOCATION, ORGANIZATION,
                 SERVICE_LOCATION)
_INCLUDE_SPELLINGS = {name.casefold(): name for name in SLOT_INCLUDES} | {
    "healthcareservice:organization": ORGANIZATION,  # the search page's table
}


class InvalidSearch(ValueError):
    """400: a parameter we know has a value we cannot read (or, under strict handling, one we do not know)."""

    def __init__(self, issues: list[dict]):
        super().__init__("; ".join(i["diagnostics"] for i in issues))
        self.issues = issues


class FormatNotAcceptable(ValueError):
    """406: the client asked for a format we do not write (XML)."""


def _issue(code: str, diagnostics: str, expression: str) -> dict:
    return {"code": code, "diagnostics": diagnostics, "expression": [expression]}


def wants_strict(prefer_header: str | None) -> bool:
    """`Prefer: handling=strict` (RFC 7240 preferences, comma or semicolon separated)."""
    tokens = re.split(r"[,;]", prefer_header or "")
    return any(token.strip().replace(" ", "").lower() == "handling=strict" for token in tokens)


def include_name(value: str) -> str | None:
    """The canonical include for any spelling of it (`.` for `:`, any case), or None if we have none."""
    return _INCLUDE_SPELLINGS.get(value.strip().replace(".", ":").casefold())


def read_format(value: str) -> None:
    """JSON in any of its spellings is what we write; XML is refused (406); anything else is a 400."""
    wanted = value.strip().lower()
    if wanted in JSON_FORMATS:
        return
    if wanted in XML_FORMATS:
        raise FormatNotAcceptable("this server writes JSON only (_format=json)")
    raise InvalidSearch([_issue("value", f"_format={value} is not a format (use json)", FORMAT_PARAM)])


# --- dates --------------------------------------------------------------------------------------------

def date_range(value: str) -> tuple[datetime, datetime]:
    """The range of moments (naive UTC, inclusive) a FHIR date or dateTime stands for, to its precision:
    `2030-01` is the whole month, `2030-01-07T10:00+01:00` that minute. A date or a time without an
    offset is read as UTC. ValueError says what is wrong."""
    match = _DATE_TIME.match(value.strip())
    if not match:
        raise ValueError("is not a date or dateTime (YYYY-MM-DDThh:mm:ss+hh:mm)")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if not EARLIEST_YEAR <= int(year) <= LATEST_YEAR:
        raise ValueError(f"has a year outside {EARLIEST_YEAR}-{LATEST_YEAR}")
    try:
        if month is None:
            low = datetime(int(year), 1, 1)
            return low, datetime(int(year) + 1, 1, 1) - timedelta(microseconds=1)
        if day is None:
            low = datetime(int(year), int(month), 1)
            following = datetime(int(year) + int(month) // 12, int(month) % 12 + 1, 1)
            return low, following - timedelta(microseconds=1)
        if hour is None:
            low = datetime.combine(date(int(year), int(month), int(day)), datetime.min.time())
            return low, low + timedelta(days=1, microseconds=-1)
        micro = int((fraction or ".0")[1:7].ljust(6, "0"))
        low = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
    except ValueError:
        raise ValueError("is not a real date or time") from None
    if second is None:
        width = timedelta(minutes=1)
    elif fraction is None:
        width = timedelta(seconds=1)
    else:
        width = timedelta(microseconds=1)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        if offset > timedelta(hours=14):
            raise ValueError("has an offset beyond ±14:00")
        low -= sign * offset
    return low, low + width - timedelta(microseconds=1)


@dataclass
class StartWindow:
    """What the `start` parameters (each ANDed with the others) leave: from, to, and ranges left out."""

    start_from: datetime | None = None
    start_to: datetime | None = None
    not_within: list[tuple[datetime, datetime]] = field(default_factory=list)

    def _from(self, moment: datetime) -> None:
        self.start_from = moment if self.start_from is None else max(self.start_from, moment)

    def _to(self, moment: datetime) -> None:
        self.start_to = moment if self.start_to is None else min(self.start_to, moment)

    def add(self, value: str, now: datetime) -> None:
        """One `start=[prefix]value`; ValueError says what is wrong with it."""
        prefix = value[:2] if value[:2] in _PREFIXES else "eq"
        raw = value[2:] if value[:2] in _PREFIXES else value
        low, high = date_range(raw)
        one = timedelta(microseconds=1)
        if prefix == "eq":
            self._from(low)
            self._to(high)
        elif prefix == "ne":
            self.not_within.append((low, high))
        elif prefix in ("gt", "sa"):
            self._from(high + one)
        elif prefix in ("lt", "eb"):
            self._to(low - one)
        elif prefix == "ge":
            self._from(low)
        elif prefix == "le":
            self._to(high)
        else:  # ap: FHIR suggests 10 % of the distance from now, either side
            margin = max(abs(now - low) / 10, high - low)
            self._from(low - margin)
            self._to(high + margin)

    @property
    def empty(self) -> bool:
        return self.start_from is not None and self.start_to is not None and self.start_to < self.start_from


# --- Slot search --------------------------------------------------------------------------------------

@dataclass
class SlotSearch:
    healthcare_service_id: int | None = None
    window: StartWindow = field(default_factory=StartWindow)
    statuses: tuple[str, ...] | None = None
    includes: set[str] = field(default_factory=set)
    used: list[tuple[str, str]] = field(default_factory=list)  # what the self link shows
    ignored: list[str] = field(default_factory=list)

    def self_query(self) -> str:
        return _encoded(tuple(self.used))


# Consumers repeat the same few searches (a service and week): the self link's query is encoded once per
# search, not on every answer (urlencode quotes each name and value in Python: ~340 calls a slot search).
@lru_cache(maxsize=512)
def _encoded(pairs: tuple[tuple[str, str], ...]) -> str:
    return urlencode(pairs, safe=":")


def _read_service(name: str, value: str, search: SlotSearch, issues: list[dict]) -> None:
    raw = value.strip().removeprefix("HealthcareService/")
    if not (_ID.match(raw) and int(raw) <= MAX_ID):
        issues.append(_issue("value", f"{name} must be the id of a HealthcareService", name))
    elif search.healthcare_service_id not in (None, int(raw)):
        issues.append(_issue("value", "give one HealthcareService", name))
    else:
        search.healthcare_service_id = int(raw)


def _read_status(value: str, search: SlotSearch, issues: list[dict]) -> None:
    asked = tuple(dict.fromkeys(part.strip() for part in value.split(",")))
    unknown = [status for status in asked if status not in SLOT_STATUSES]
    if unknown:
        issues.append(_issue("value", f"status must be one or more of {', '.join(SLOT_STATUSES)} "
                                      "(comma-separated)", "status"))
        return
    # Two status parameters must both hold: a slot has one status, so only the ones in both remain.
    search.statuses = asked if search.statuses is None else tuple(s for s in search.statuses if s in asked)


def parse_slot_search(pairs: list[tuple[str, str]], *, strict: bool = False,
                      now: datetime | None = None) -> SlotSearch:
    """The Slot search; InvalidSearch naming every unreadable parameter (and, when strict, every
    unknown parameter or include); FormatNotAcceptable for _format=xml."""
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    search = SlotSearch()
    issues: list[dict] = []
    for name, value in pairs:
        before = len(issues)
        if name in SERVICE_PARAMS:
            _read_service(name, value, search, issues)
        elif name == "start":
            try:
                search.window.add(value, now)
            except ValueError as exc:
                issues.append(_issue("value", f"start={value[:40]} {exc}", "start"))
        elif name == "status":
            _read_status(value, search, issues)
        elif name in INCLUDE_PARAMS:
            include = include_name(value)
            if include is None:
                if strict:
                    issues.append(_issue("not-supported", f"{name}={value[:80]} is not supported", name))
                search.ignored.append(name)
                continue
            search.includes.add(include)
        elif name == FORMAT_PARAM:
            read_format(value)
        else:
            if strict:
                issues.append(_issue("not-supported", f"unknown search parameter {name[:80]!r}", name[:80]))
            search.ignored.append(name)
            continue
        if len(issues) == before:
            search.used.append((name, value))
    if search.window.empty:
        issues.append(_issue("value", "the start window ends before it begins", "start"))
    if issues:
        raise InvalidSearch(issues)
    return search


# --- Appointment search -------------------------------------------------------------------------------

# The page prints the patient parameter as `Appointment.participant.actor:Patient.identifier`; FHIR's
# own spellings are chained `patient.identifier` and `actor:Patient.identifier`; the page's sample self
# link shows `Appointment.participant.actor`, and its CapabilityStatement `identifier`.
PATIENT_PARAMS = ("Appointment.participant.actor:Patient.identifier", "Appointment.participant.actor",
                  "patient.identifier", "actor:Patient.identifier", "patient:Patient.identifier", "identifier")


@dataclass
class AppointmentSearch:
    system: str | None = None
    value: str | None = None
    appointment_id: int | None = None
    used: list[tuple[str, str]] = field(default_factory=list)

    def self_query(self) -> str:
        return urlencode(self.used, safe=":")


def parse_appointment_search(pairs: list[tuple[str, str]], *, strict: bool = False) -> AppointmentSearch:
    """A patient's appointments by identifier (`system|value`), optionally `_id`; InvalidSearch otherwise."""
    search = AppointmentSearch()
    issues: list[dict] = []
    for name, value in pairs:
        if name in PATIENT_PARAMS:
            system, bar, identifier = value.partition("|")
            if not bar or not system.strip() or not identifier.strip() or len(value) > 300:
                issues.append(_issue("value", f"{name} must be system|value, e.g. "
                                              "https://fhir.nhs.uk/Id/nhs-number|9434765919", name))
                continue
            if search.system is not None and (search.system, search.value) != (system.strip(), identifier.strip()):
                issues.append(_issue("value", "give one patient", name))
                continue
            search.system, search.value = system.strip(), identifier.strip()
        elif name == "_id":
            if not (_ID.match(value.strip()) and int(value) <= MAX_ID):
                issues.append(_issue("value", "_id must be the id of an Appointment", name))
                continue
            search.appointment_id = int(value)
        elif name == FORMAT_PARAM:
            read_format(value)
        else:
            if strict:
                issues.append(_issue("not-supported", f"unknown search parameter {name[:80]!r}", name[:80]))
            continue
        search.used.append((name, value))
    if search.system is None and not issues:
        issues.append(_issue("required", "give the patient: Appointment.participant.actor:Patient.identifier="
                                         "system|value", PATIENT_PARAMS[0]))
    if issues:
        raise InvalidSearch(issues)
    return search
