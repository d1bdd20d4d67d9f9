"""Validation and normalisation of the identifiers patients arrive with."""

from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from stdnum import exceptions as stdnum_errors
from stdnum.gb import nhs
from stdnum.no import fodselsnummer


class InvalidIdentifier(ValueError):
    """What is wrong, as the end of a sentence about the value ("must be 11 digits"), in the language of
    whoever reads it: the message is lazy, so a page, a form error or an API answer says it in its own."""


def normalise_fodselsnummer(value: str) -> str:
    """The 11-digit Norwegian national id, checksum and birth date verified."""
    try:
        return fodselsnummer.validate(value)
    except stdnum_errors.InvalidLength:
        raise InvalidIdentifier(_l("must be 11 digits")) from None
    except stdnum_errors.InvalidFormat:
        raise InvalidIdentifier(_l("must contain only digits")) from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidIdentifier(_l("fails the fødselsnummer checksum")) from None
    except stdnum_errors.InvalidComponent:
        raise InvalidIdentifier(_l("does not encode a valid birth date")) from None
    except stdnum_errors.ValidationError:
        raise InvalidIdentifier(_l("is not a valid fødselsnummer")) from None


def normalise_nhs_number(value: str) -> str:
    """The 10-digit NHS number (spaces allowed on input), its modulus 11 check digit verified."""
    try:
        return nhs.validate(value)
    except stdnum_errors.InvalidLength:
        raise InvalidIdentifier(_l("an NHS number has 10 digits")) from None
    except stdnum_errors.InvalidFormat:
        raise InvalidIdentifier(_l("an NHS number contains only digits")) from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidIdentifier(_l("the NHS number fails its check digit")) from None
    except stdnum_errors.ValidationError:
        raise InvalidIdentifier(_l("is not a valid NHS number")) from None


def birth_date_from_fodselsnummer(value: str):
    return fodselsnummer.get_birth_date(value)


@dataclass(frozen=True)
class Phone:
    e164: str
    needs_check: bool  # parsed, but not a number any operator would route


def parse_phone(value: str, default_region: str = "NO") -> Phone:
    """Accept any number of a possible length; flag (not reject) one that is not a valid number.

    A referral is never lost over a doubtful phone: the secretary checks a flagged one.
    """
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier(_l("is not a phone number")) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentifier(_l("is not a phone number (wrong number of digits)"))
    needs_check = not phonenumbers.is_valid_number(number)
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), needs_check)


def normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidIdentifier(_l("is not an e-mail address")) from None
