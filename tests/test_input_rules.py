"""Properties of the input rules every entry point uses (portal/input_rules.py).

Never an exception other than the module's own refusal (InputRejected, TextRejected, ValueError for
moments); what is accepted comes back as it was meant (round trip).
"""

import json
import unicodedata
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, strategies as st

from portal.input_rules import (
    BIDI_CONTROLS,
    BLANK_LETTERS,
    EARLIEST,
    LATEST,
    MAX_DEPTH,
    InputRejected,
    TextRejected,
    clean_text,
    load_json,
    parse_date,
    parse_instant,
)

# JSON values inside every limit: what a well-behaved sender sends.
json_scalars = (st.none() | st.booleans() | st.integers(-(10**18) + 1, 10**18 - 1)
                | st.floats(allow_nan=False, allow_infinity=False, width=64) | st.text(max_size=50))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=30)


@given(st.binary(max_size=400))
def test_any_bytes_are_json_or_refused_by_the_rules(body):
    try:
        load_json(body)
    except InputRejected as exc:
        assert exc.message
        json.dumps({"field": exc.field, "message": exc.message})  # the refusal itself is sendable


@given(st.text(max_size=300))
def test_any_text_is_json_or_refused_by_the_rules(text):
    try:
        load_json(text.encode("utf-8", "surrogatepass"))
    except InputRejected as exc:
        assert exc.message


@given(json_values)
def test_json_within_the_limits_round_trips(value):
    assert load_json(json.dumps(value).encode()) == value
    assert load_json(json.dumps(value, ensure_ascii=False).encode()) == value


@given(st.integers(min_value=MAX_DEPTH + 1, max_value=5000), st.sampled_from(["[]", "{}"]))
def test_nesting_past_the_limit_is_refused_wherever_it_is(depth, brackets):
    opening, closing = brackets
    inner = (opening if opening == "[" else '{"a":') * depth
    inner += ("]" if opening == "[" else "}") * depth if opening == "[" else "1" + "}" * depth
    with pytest.raises(InputRejected, match="nested deeper"):
        load_json(('{"Firstname": ' + inner + "}").encode())


@given(st.integers(min_value=19, max_value=6000), st.booleans())
def test_long_integers_are_refused_naming_their_place(digits, negative):
    number = ("-" if negative else "") + "7" * digits
    with pytest.raises(InputRejected) as refused:
        load_json(f'{{"a": [1, {number}]}}'.encode())
    assert refused.value.field == "a[1]"


@given(st.integers(0xD800, 0xDFFF), st.sampled_from(["value", "key"]))
def test_lone_surrogates_are_refused_naming_their_place(code, where):
    escaped = f"\\u{code:04x}"
    body = f'{{"x": {{"{escaped}": 1}}}}' if where == "key" else f'{{"x": ["{escaped}"]}}'
    with pytest.raises(InputRejected, match="Unicode") as refused:
        load_json(body.encode())
    assert refused.value.field.startswith("x")
    json.dumps(refused.value.field, ensure_ascii=False).encode("utf-8")  # the name is valid UTF-8 itself


@given(st.text(max_size=80), st.booleans())
def test_any_text_is_clean_or_refused_with_a_message(text, multiline):
    try:
        cleaned = clean_text(text, max_length=200, multiline=multiline)
    except TextRejected as exc:
        assert exc.message
        return
    assert cleaned == unicodedata.normalize("NFC", cleaned) == cleaned.strip()
    assert cleaned and len(cleaned) <= 200
    assert not any(ch in BIDI_CONTROLS for ch in cleaned)
    allowed_controls = "\n\t" if multiline else ""
    assert not any(unicodedata.category(ch) == "Cc" and ch not in allowed_controls for ch in cleaned)
    assert clean_text(cleaned, max_length=200, multiline=multiline) == cleaned  # idempotent


names = st.text(st.characters(categories=["Lu", "Ll", "Lo", "Lm"], exclude_characters=BLANK_LETTERS), min_size=1,
                max_size=30)


@given(names, names)
def test_names_in_any_script_round_trip(first, last):
    name = unicodedata.normalize("NFC", f"{first} {last}")
    assert clean_text(name, max_length=200) == name
    assert clean_text(unicodedata.normalize("NFD", name), max_length=200) == name


@given(st.text(st.sampled_from("\u200b\u200c\u200d\u2060\ufeff\u3164\u115f\u2800 \u00a0\u180e"), min_size=1,
               max_size=10))
def test_invisible_only_values_are_refused(value):
    with pytest.raises(TextRejected):
        clean_text(value, max_length=200)


@given(names, st.sampled_from(sorted(BIDI_CONTROLS)), names)
def test_text_direction_controls_are_refused_anywhere(before, control, after):
    with pytest.raises(TextRejected, match="direction"):
        clean_text(before + control + after, max_length=200)


moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30))
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@given(moments, offsets, st.integers(0, 6))
def test_instants_round_trip_to_utc(moment, offset, extra_digits):
    local = moment.replace(tzinfo=offset)
    text = local.isoformat(timespec="microseconds")
    text = text[:26] + "7" * extra_digits + text[26:]  # digits past microseconds are dropped
    assert parse_instant(text) == local.astimezone(timezone.utc).replace(tzinfo=None)


@given(st.text(max_size=40))
def test_any_text_is_an_instant_in_range_or_a_value_error(text):
    try:
        moment = parse_instant(text, zone_required=False)
    except ValueError as exc:
        assert str(exc)
        return
    assert EARLIEST <= moment <= LATEST


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), offsets)
def test_instants_out_of_range_are_refused_never_overflow(moment, offset):
    assume(not EARLIEST <= moment.replace(tzinfo=offset).astimezone(timezone.utc).replace(tzinfo=None) <= LATEST)
    with pytest.raises(ValueError):
        parse_instant(moment.replace(tzinfo=offset).isoformat())


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
def test_dates_round_trip(day):
    assert parse_date(day.isoformat()) == day


@given(st.text(max_size=20))
def test_any_text_is_a_date_in_range_or_a_value_error(text):
    try:
        day = parse_date(text)
    except ValueError:
        return
    assert EARLIEST.date() <= day <= LATEST.date() and day.isoformat() == text
