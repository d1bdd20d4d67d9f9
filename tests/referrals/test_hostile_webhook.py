"""The referral webhook answers hostile and unusual input with a 4xx naming the field, never a 500.

Each case here was once a 500 (or a 201 for a name that is no name).
"""

import json
import time

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.referrals.intake import sign
from portal.referrals.models import Referral


def post_raw(client, app, body: bytes, timestamp: str | None = None, signature: str | None = None):
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    signed = signature if signature is not None else sign(app.config["REFERRAL_WEBHOOK_SECRET"], stamp, body)
    return client.post("/api/referrals", data=body,
                       headers={"Content-Type": "application/json", "X-Referral-Timestamp": stamp,
                                "X-Referral-Signature": signed})


def payload_with(seed_referral, **fields) -> bytes:
    """The seed referral as JSON text with some values replaced by raw JSON text (not re-encoded)."""
    parts = [f'"{key}": {fields.pop(key) if key in fields else json.dumps(value)}'
             for key, value in seed_referral.items()]
    parts += [f'"{key}": {raw}' for key, raw in fields.items()]
    return ("{" + ", ".join(parts) + "}").encode()


def fields_named(response) -> set:
    return {e["field"] for e in response.json.get("errors", [])}


def assert_problem(response, status: int, field: str | None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    if field is not None:
        assert field in fields_named(response), response.json


@pytest.mark.parametrize("stamp", ["²", "١٢٣٤٥٦٧٨٩٠", "9" * 309, "-5", "1e9", " 12", "0x10"])
def test_a_timestamp_that_is_not_plain_unix_seconds_is_401_before_anything_else(client, app, stamp):
    response = post_raw(client, app, b"{}", timestamp=stamp, signature="sha256=" + "0" * 64)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert "X-Referral-Timestamp" in response.json["detail"]


def test_a_timestamp_sent_as_a_raw_non_ascii_byte_is_401(client):
    # '\xb2' on the wire is read as '²' (latin-1), which str.isdigit() accepts and int() refuses.
    response = client.post("/api/referrals", data=b"{}", headers=[
        ("Content-Type", "application/json"), ("X-Referral-Timestamp", "\xb2"),
        ("X-Referral-Signature", "sha256=00")])
    assert response.status_code == 401


@pytest.mark.parametrize("field", ["Firstname", "Lastname", "FormatId"])
def test_a_lone_surrogate_is_422_naming_the_field(client, app, seed_referral, field):
    response = post_raw(client, app, payload_with(seed_referral, **{field: '"Li\\ud800ne"'}))
    assert_problem(response, 400, field)
    assert "Unicode" in response.json["detail"]


def test_a_lone_surrogate_in_an_unknown_key_is_422_and_the_answer_is_valid_json(client, app, seed_referral):
    response = post_raw(client, app, payload_with(seed_referral)[:-1] + b', "X\\udc00": 1}')
    assert response.status_code in (400, 422) and response.mimetype == "application/problem+json"
    assert response.json["status"] == response.status_code


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                                   "9999-12-31T23:59:59.9999999-01:00", "1850-01-01T00:00:00Z",
                                   "2022-02-30T10:00:00Z", "2022-11-08T24:00:00Z", "2022-11-08T10:00:00+24:00"])
def test_a_message_timestamp_out_of_range_is_422_naming_it(post_referral, seed_referral, stamp):
    response = post_referral({**seed_referral, "MessageTimestamp": stamp})
    assert_problem(response, 422, "MessageTimestamp")


def test_json_nested_3000_levels_deep_is_400(client, app, seed_referral):
    deep = "[" * 3000 + "]" * 3000
    response = post_raw(client, app, payload_with(seed_referral, Firstname=deep))
    assert_problem(response, 400, None)
    assert "deep" in response.json["detail"]


def test_json_nested_a_little_too_deep_is_400_naming_where(client, app, seed_referral):
    deep = "[" * 40 + "]" * 40
    response = post_raw(client, app, payload_with(seed_referral, Firstname=deep))
    assert_problem(response, 400, None)
    assert response.json["errors"] == [{"field": "Firstname" + "[0]" * 15,
                                        "message": "is nested deeper than 16 levels"}]


def test_a_5000_digit_integer_is_400_naming_the_field(client, app, seed_referral):
    response = post_raw(client, app, payload_with(seed_referral, PhoneNumber="9" * 5000))
    assert_problem(response, 400, "PhoneNumber")


@pytest.mark.parametrize("raw", ["NaN", "-Infinity", "1e999999", "1" + "0" * 400 + ".5"])
def test_numbers_json_does_not_have_or_that_overflow_are_400(client, app, seed_referral, raw):
    response = post_raw(client, app, payload_with(seed_referral, Extra=raw))
    assert_problem(response, 400, "Extra")


def test_invalid_utf8_is_400(client, app, seed_referral):
    body = payload_with(seed_referral).replace(b'"Line"', b'"Li\xffne"')
    response = post_raw(client, app, body)
    assert_problem(response, 400, None)
    assert "UTF-8" in response.json["detail"]


@pytest.mark.parametrize("name, why", [
    ("\u200b", "visible"), ("\u200b\u200c\u2060", "visible"), ("\u3164", "visible"), (" \u00a0 ", "empty"),
    ("Li\x00ne", "control"), ("Li\nne", "control"), ("Line\u202eresnaD", "direction"),
    ("Line\u2066x\u2069", "direction"), ("Li\ufffdne", "could not be read"),
])
def test_names_that_are_no_names_are_422_with_a_clear_message(post_referral, seed_referral, app_ctx, name, why):
    response = post_referral({**seed_referral, "Firstname": name})
    assert_problem(response, 422, "Firstname")
    assert why in response.json["detail"]
    assert db.session.scalar(select(func.count()).select_from(Referral)) == 0


def test_names_are_stored_in_nfc(post_referral, seed_referral, app_ctx):
    decomposed = "Bjo\u0308rn"  # o + combining diaeresis
    response = post_referral({**seed_referral, "Firstname": decomposed, "Lastname": "  Ny\u0308gard  "})
    assert response.status_code == 201
    patient = db.session.get(Referral, response.json["referral_id"]).patient
    assert (patient.first_name, patient.last_name) == ("Bj\u00f6rn", "N\u00ffgard")


def test_names_in_other_scripts_are_welcome(post_referral, seed_referral, app_ctx):
    response = post_referral({**seed_referral, "Firstname": "\u05e9\u05e8\u05d4", "Lastname": "O\u2019Brien-\u674e"})
    assert response.status_code == 201, response.get_data(as_text=True)
