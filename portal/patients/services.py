"""Finding and creating patients."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.patients.identifiers import (InvalidIdentifier, birth_date_from_fodselsnummer, normalise_fodselsnummer,
                                         normalise_nhs_number)
from portal.patients.models import Patient
from portal.security.crypto import blind_index


def fodselsnummer_index(normalised: str) -> str:
    return blind_index("fnr", normalised)


def find_patient_by_fodselsnummer(normalised: str) -> Patient | None:
    return db.session.scalar(select(Patient).where(Patient.national_id_index == fodselsnummer_index(normalised)))


def fetch_or_create_patient_from_referral(*, fodselsnummer: str, first_name: str, last_name: str,
                                          email: str | None, phone: str | None, phone_needs_check: bool) -> Patient:
    """The patient with this national id, created on first sight. Safe against a concurrent create."""
    patient = find_patient_by_fodselsnummer(fodselsnummer)
    if patient is not None:
        return patient
    patient = Patient(
        national_id=fodselsnummer,
        national_id_index=fodselsnummer_index(fodselsnummer),
        national_id_kind="fnr",
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date_from_fodselsnummer(fodselsnummer),
        email=email,
        phone=phone,
        phone_needs_check=phone_needs_check,
        from_insurer_referral=True,
        marketing_allowed=False,
    )
    try:
        with db.session.begin_nested():
            db.session.add(patient)
    except IntegrityError:
        # Another request created the same patient a moment ago: use theirs.
        return find_patient_by_fodselsnummer(fodselsnummer)
    return patient


def nhs_number_index(normalised: str) -> str:
    return blind_index("nhs", normalised)


def find_patient_by_nhs_number(normalised: str) -> Patient | None:
    return db.session.scalar(select(Patient).where(Patient.national_id_index == nhs_number_index(normalised)))


def fetch_or_create_patient_by_nhs_number(*, nhs_number: str, first_name: str, last_name: str,
                                          birth_date=None, phone: str | None = None) -> Patient:
    """The patient with this (normalised) NHS number, created on first sight; added to the caller's
    transaction. An existing patient's details are not overwritten by what a booking system sent."""
    patient = find_patient_by_nhs_number(nhs_number)
    if patient is not None:
        return patient
    patient = Patient(
        national_id=nhs_number, national_id_index=nhs_number_index(nhs_number), national_id_kind="nhs",
        first_name=first_name, last_name=last_name, birth_date=birth_date, phone=phone,
    )
    try:
        with db.session.begin_nested():
            db.session.add(patient)
    except IntegrityError:
        return find_patient_by_nhs_number(nhs_number)
    return patient


def find_patient_by_national_id(value: str) -> Patient | None:
    """A known patient by fødselsnummer (11 digits) or NHS number (10 digits), or None."""
    digits = "".join(ch for ch in value or "" if not ch.isspace())
    try:
        if len(digits) == 11:
            return find_patient_by_fodselsnummer(normalise_fodselsnummer(digits))
        return find_patient_by_nhs_number(normalise_nhs_number(digits))
    except InvalidIdentifier:
        return None


def direct_identity_index(*, email: str, last_name: str, birth_date) -> str:
    """The blind index a direct-flow patient is found again by: proven e-mail + last name + birth date.

    All three must match (case and spacing aside). A direct patient has no national id, so anything
    weaker (a name and birth date, an e-mail alone — families share addresses) could merge two people.
    """
    words = " ".join((last_name or "").split()).casefold()
    return blind_index("direct", f"{(email or '').strip().casefold()}|{words}|{birth_date.isoformat()}")


def fetch_or_create_direct_patient(*, email: str, first_name: str, last_name: str, birth_date,
                                   phone: str | None) -> tuple[Patient, bool]:
    """(patient, reused) for someone who proved their e-mail in the direct flow; in the caller's transaction.

    A returning patient keeps their record; only the phone they just gave replaces the old one, since
    that is where the link to the waiting room is sent. Safe against the same person starting twice at once.
    """
    index = direct_identity_index(email=email, last_name=last_name, birth_date=birth_date)
    patient = db.session.scalar(select(Patient).where(Patient.direct_identity_index == index))
    if patient is not None:
        if phone:
            patient.phone = phone
        return patient, True
    patient = Patient(first_name=first_name, last_name=last_name, birth_date=birth_date, email=email, phone=phone,
                      direct_identity_index=index, from_insurer_referral=False, marketing_allowed=False)
    try:
        with db.session.begin_nested():
            db.session.add(patient)
    except IntegrityError:
        return db.session.scalar(select(Patient).where(Patient.direct_identity_index == index)), True
    return patient, False
