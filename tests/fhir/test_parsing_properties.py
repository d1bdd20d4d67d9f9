"""Properties of what the FHIR API reads (portal/fhir/parsing.py): search parameters and Appointment bodies.

Any input is parsed or refused with InvalidRequest/InvalidResource naming the element; a valid
Appointment's values come back as sent; a search window is what its prefixes say.
"""

import json
import unicodedata
from datetime import date, datetime, timedelta, timezone

from hypothesis import given, strategies as st

from portal.fhir.parsing import InvalidRequest, InvalidResource, parse_appointment, parse_appointment_update
from portal.fhir.search import INCLUDE_PARAMS, SERVICE_PARAMS, FormatNotAcceptable, InvalidSearch, parse_slot_search
from tests.fhir.conftest import appointment_body
from tests.patients.test_identifier_properties import nhs_numbers
from tests.test_input_rules import json_values, names

parameter_names = (st.sampled_from(SERVICE_PARAMS + INCLUDE_PARAMS + ("start", "status", "_format"))
                   | st.text(max_size=20))
parameter_values = (st.text(max_size=40)
                    | st.from_regex(r"\A(ge|gt|le|lt|eq|ne|sa|eb|ap)?[0-9]{4}-[0-9]{2}-[0-9]{2}"
                                    r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?"
                                    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?\Z"))


@given(st.lists(st.tuples(parameter_names, parameter_values), max_size=6))
def test_any_search_parameters_are_a_search_or_refused_naming_them(pairs):
    for strict in (False, True):
        try:
            search = parse_slot_search(pairs, strict=strict)
        except FormatNotAcceptable:
            continue
        except InvalidSearch as exc:
            assert exc.issues and all(issue["diagnostics"] for issue in exc.issues)
            continue
        assert search.healthcare_service_id is None or search.healthcare_service_id >= 0
        window = search.window
        if window.start_from and window.start_to:
            assert window.start_from <= window.start_to


days = st.dates(min_value=date(1900, 1, 2), max_value=date(2999, 12, 30))


@given(st.integers(1, 2**31 - 1), days, days)
def test_a_date_window_covers_whole_days(service, first, last):
    pairs = [("schedule.actor:HealthcareService", str(service)), ("start", f"ge{first}"), ("start", f"le{last}")]
    try:
        search = parse_slot_search(pairs)
    except InvalidSearch:
        assert last < first
        return
    assert search.window.start_from == datetime.combine(first, datetime.min.time())
    assert search.window.start_to == datetime.combine(last, datetime.max.time())


@given(st.binary(max_size=300))
def test_any_bytes_are_an_appointment_or_refused(body):
    for parse in (parse_appointment, lambda b: parse_appointment_update(b, 1, {})):
        try:
            parse(body)
        except (InvalidRequest, InvalidResource) as exc:
            assert exc.issues


@given(st.dictionaries(st.sampled_from(["resourceType", "status", "start", "end", "slot", "participant",
                                        "contained", "description", "comment", "id"]), json_values))
def test_any_json_object_is_an_appointment_or_refused_naming_elements(payload):
    payload.setdefault("resourceType", "Appointment")
    try:
        parse_appointment(json.dumps(payload).encode())
    except (InvalidRequest, InvalidResource) as exc:
        assert all(issue["diagnostics"] for issue in exc.issues)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2900, 1, 1))


@given(st.integers(1, 2**31 - 1), starts, st.integers(-12, 12), nhs_numbers, names, names,
       st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
def test_a_valid_appointment_round_trips(slot_id, start, hours, nhs_number, family, given_name, born):
    zone = timezone(timedelta(hours=hours))
    local = start.replace(microsecond=0, tzinfo=timezone.utc).astimezone(zone)
    body = appointment_body(slot_id, local.isoformat(), (local + timedelta(minutes=15)).isoformat(), nhs_number)
    body["contained"][0]["name"] = [{"family": family, "given": [given_name]}]
    body["contained"][0]["birthDate"] = born.isoformat()
    parsed = parse_appointment(json.dumps(body).encode())
    assert parsed.slot_id == slot_id and parsed.nhs_number == nhs_number
    assert parsed.start == start.replace(microsecond=0) and parsed.end == parsed.start + timedelta(minutes=15)
    assert (parsed.family_name, parsed.given_name, parsed.birth_date) == (nfc(family), nfc(given_name), born)
