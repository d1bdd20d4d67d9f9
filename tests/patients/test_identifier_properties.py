"""Properties of the national ids and phone numbers patients arrive with (portal/patients/identifiers.py).

There is no ICN (the VA's Integration Control Number) parser in the code yet, so it has no property here.
"""

import random

import pytest
from hypothesis import assume, given, strategies as st
from stdnum.gb import nhs

from portal.patients.identifiers import (
    InvalidIdentifier,
    birth_date_from_fodselsnummer,
    normalise_email,
    normalise_fodselsnummer,
    normalise_nhs_number,
    parse_phone,
)
from portal.sandbox.referral_system import random_fodselsnummer

fodselsnumre = st.integers(0, 2**32).map(lambda seed: random_fodselsnummer(random.Random(seed)))


def _with_check_digit(nine: str) -> str | None:
    check = (11 - sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11) % 11
    return None if check == 10 else nine + str(check)


nhs_numbers = st.text("0123456789", min_size=9, max_size=9).map(_with_check_digit).filter(bool)


@given(st.text(max_size=30))
def test_any_text_is_a_fodselsnummer_or_refused(text):
    try:
        normalised = normalise_fodselsnummer(text)
    except InvalidIdentifier as exc:
        assert str(exc)
        return
    assert len(normalised) == 11 and normalised.isascii() and normalised.isdigit()


@given(fodselsnumre)
def test_valid_fodselsnumre_round_trip_with_their_birth_date(number):
    assert normalise_fodselsnummer(number) == number
    assert normalise_fodselsnummer(f" {number[:6]} {number[6:]} ") == number
    born = birth_date_from_fodselsnummer(number)
    assert born.strftime("%d%m%y") == number[:6]


@given(fodselsnumre, st.integers(0, 10), st.integers(1, 9))
def test_a_changed_digit_is_caught(number, position, change):
    changed = number[:position] + str((int(number[position]) + change) % 10) + number[position + 1:]
    with pytest.raises(InvalidIdentifier):
        normalise_fodselsnummer(changed)


@given(st.text(max_size=30))
def test_any_text_is_an_nhs_number_or_refused(text):
    try:
        normalised = normalise_nhs_number(text)
    except InvalidIdentifier as exc:
        assert str(exc)
        return
    assert len(normalised) == 10 and normalised.isascii() and normalised.isdigit()


@given(nhs_numbers)
def test_valid_nhs_numbers_round_trip_in_any_spacing(number):
    assert nhs.is_valid(number)
    assert normalise_nhs_number(number) == number
    assert normalise_nhs_number(f"{number[:3]} {number[3:6]} {number[6:]}") == number


@given(nhs_numbers, st.integers(0, 9), st.integers(1, 9))
def test_a_changed_nhs_digit_is_caught(number, position, change):
    changed = number[:position] + str((int(number[position]) + change) % 10) + number[position + 1:]
    assume(changed != number)
    with pytest.raises(InvalidIdentifier):
        normalise_nhs_number(changed)


@given(st.text(max_size=40), st.sampled_from(["NO", "GB"]))
def test_any_text_is_a_phone_or_refused(text, region):
    try:
        phone = parse_phone(text, region)
    except InvalidIdentifier as exc:
        assert str(exc)
        return
    assert phone.e164.startswith("+") and phone.e164[1:].isdigit()


@given(st.sampled_from(["+479", "+474", "+4477009", "+4420"]), st.text("0123456789", min_size=6, max_size=7))
def test_phone_numbers_round_trip_through_e164(prefix, rest):
    try:
        phone = parse_phone(prefix + rest)
    except InvalidIdentifier:
        return
    again = parse_phone(phone.e164)
    assert again == phone


@given(st.emails())
def test_e_mail_addresses_normalise_once(address):
    try:
        normalised = normalise_email(address)
    except InvalidIdentifier:
        return
    assert normalise_email(normalised) == normalised


@given(st.text(max_size=60))
def test_any_text_is_an_e_mail_address_or_refused(text):
    try:
        normalise_email(text)
    except InvalidIdentifier as exc:
        assert str(exc)
