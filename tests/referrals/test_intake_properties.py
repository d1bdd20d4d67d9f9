"""Properties of the referral webhook's checks (portal/referrals/intake.py): its headers and its body.

Any headers give a reason or None, never an exception; any body is a referral or InvalidReferral; a
valid referral's fields come back as sent (names in NFC), and its signature is accepted.
"""

import json
import random
import unicodedata
import uuid
from datetime import datetime

from hypothesis import given, strategies as st

from portal.referrals.intake import InvalidReferral, parse_referral, sign, signature_problem
from portal.sandbox.referral_system import random_fodselsnummer
from tests.test_input_rules import json_values, names

SECRET = "property-secret"
header_values = st.none() | st.text(max_size=40) | st.text("0123456789", min_size=1, max_size=400)


@given(header_values, header_values, st.binary(max_size=200), st.floats(0, 2e9))
def test_any_signature_headers_give_a_reason_or_none(timestamp, signature, body, now):
    why = signature_problem(SECRET, timestamp, signature, body, now, 300)
    assert why is None or "X-Referral" in why


@given(st.binary(max_size=200), st.integers(0, 2_000_000_000), st.integers(-300, 300))
def test_a_signed_body_is_accepted_within_the_skew(body, stamp, drift):
    signature = sign(SECRET, str(stamp), body)
    assert signature_problem(SECRET, str(stamp), signature, body, stamp + drift, 300) is None
    assert signature_problem(SECRET, str(stamp), signature, body + b" ", stamp, 300) is not None


@given(st.binary(max_size=300))
def test_any_bytes_are_a_referral_or_invalid(body):
    try:
        parse_referral(body)
    except InvalidReferral as exc:
        assert exc.errors and all("message" in e for e in exc.errors)
        json.dumps(exc.errors)


@given(st.dictionaries(st.sampled_from(["JournalGuid", "PID", "FormatId", "MessageTimestamp", "Firstname",
                                        "Lastname", "PhoneNumber", "Email", "Other"]), json_values))
def test_any_json_object_with_the_known_keys_is_a_referral_or_invalid_naming_fields(payload):
    try:
        parse_referral(json.dumps(payload).encode())
    except InvalidReferral as exc:
        assert all(e["field"] is None or isinstance(e["field"], str) for e in exc.errors)


referrals = st.fixed_dictionaries({
    "JournalGuid": st.uuids().map(str),
    "PID": st.integers(0, 2**32).map(lambda seed: random_fodselsnummer(random.Random(seed))),
    "FormatId": st.just("http://ehelse.no/xmlstds/henvisning/2017-11-30"),
    "MessageTimestamp": st.datetimes(min_value=datetime(2000, 1, 1),
                                     max_value=datetime(2100, 1, 1))
    .map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"),
    "Firstname": names, "Lastname": names,
    "PhoneNumber": st.integers(0, 10**7 - 1).map(lambda n: f"+479{n:07d}"),
}, optional={"Email": st.emails()})


@given(referrals)
def test_a_valid_referral_round_trips(payload):
    referral = parse_referral(json.dumps(payload).encode())
    assert referral.journal_guid == str(uuid.UUID(payload["JournalGuid"]))
    assert referral.fodselsnummer == payload["PID"]
    assert referral.first_name == unicodedata.normalize("NFC", payload["Firstname"])
    assert referral.last_name == unicodedata.normalize("NFC", payload["Lastname"])
    assert referral.phone == payload["PhoneNumber"]
    assert referral.message_timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z" == payload["MessageTimestamp"]
    assert json.loads(referral.canonical) == payload  # what was sent is kept as sent
