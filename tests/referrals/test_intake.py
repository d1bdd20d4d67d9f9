"""Units: signature, timestamp and payload checks, without a server."""

import json

import pytest

from portal.referrals import intake


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    # Reference value computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac s3cret
    assert intake.sign("s3cret", "1700000000", b"{}") == (
        "sha256=" + __import__("hmac").new(b"s3cret", b"1700000000.{}", "sha256").hexdigest())


def test_signature_checks():
    body = b'{"a": 1}'
    good = intake.sign("k", "1000", body)
    assert intake.signature_problem("k", "1000", good, body, now=1000, max_skew=300) is None
    assert "required" in intake.signature_problem("k", None, good, body, now=1000, max_skew=300)
    assert "too far" in intake.signature_problem("k", "1000", good, body, now=1301, max_skew=300)
    assert "does not match" in intake.signature_problem("k", "1000", good, body + b" ", now=1000, max_skew=300)
    assert "does not match" in intake.signature_problem("k", "1000", "sha256=00", body, now=1000, max_skew=300)


@pytest.mark.parametrize("value, expected", [
    ("2022-11-08T22:51:10.1127156Z", "2022-11-08T22:51:10.112715"),
    ("2022-11-08T22:51:10Z", "2022-11-08T22:51:10"),
    ("2022-11-08T23:51:10.5+01:00", "2022-11-08T22:51:10.500000"),
])
def test_timestamps_with_any_fraction_are_read_as_utc(value, expected):
    assert intake.parse_timestamp(value).isoformat() == expected


@pytest.mark.parametrize("value", ["2022-11-08 22:51:10", "2022-11-08T22:51:10", "yesterday", "2022-13-08T22:51:10Z"])
def test_bad_timestamps_are_refused(value):
    with pytest.raises(ValueError):
        intake.parse_timestamp(value)


def test_canonical_form_ignores_key_order_and_spacing():
    a = intake.parse_referral(json.dumps({
        "JournalGuid": "240b54a7-8c2a-4c3c-80a4-0bc63e2c9493", "PID": "13116900216", "FormatId": "f",
        "MessageTimestamp": "2022-11-08T22:51:10.1127156Z", "Firstname": "Line", "Lastname": "Danser",
        "PhoneNumber": "+4791234567"}).encode())
    b = intake.parse_referral(json.dumps(json.loads(a.canonical), indent=2, sort_keys=False).encode())
    assert a.canonical == b.canonical
    assert a.phone_needs_check is False
