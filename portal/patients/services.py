"""Finding and creating patients."""

from functools import lru_cache

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import Text, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.patients.identifiers import (
    InvalidIdentifier,
    birth_date_from_fodselsnummer,
    normalise_fodselsnummer,
    normalise_nhs_number,
    parse_phone,
)
from portal.patients.models import Patient
from portal.security import audit
from portal.security.crypto import blind_index, encrypt
from portal.security.models import utcnow


def fodselsnummer_index(normalised: str) -> str:
    return blind_index("fnr", normalised)


def find_patient_by_fodselsnummer(normalised: str) -> Patient | None:
    return db.session.scalar(select(Patient).where(Patient.national_id_index == fodselsnummer_index(normalised)))


def referral_patient_row(*, fodselsnummer: str, first_name: str, last_name: str, email: str | None,
                         phone: str | None, phone_needs_check: bool) -> dict:
    """The row of a patient the referral system names, sealed, indexed and stamped already: the webhook
    builds it before its transaction takes SQLite's writer's turn, which every other writer waits for."""
    return {
        "national_id": encrypt(fodselsnummer, _NATIONAL_ID_PURPOSE),
        "national_id_index": fodselsnummer_index(fodselsnummer),
        "national_id_kind": "fnr",
        "first_name": first_name,
        "last_name": last_name,
        "birth_date": birth_date_from_fodselsnummer(fodselsnummer),
        "email": email,
        "phone": phone,
        "phone_needs_check": phone_needs_check,
        "from_insurer_referral": True,
        "marketing_allowed": False,
        "language": "nb",  # the referral system is the Norwegian insurers': its patients are spoken to in bokmål
        "created_at": utcnow(),
    }


def add_unless_known(row: dict) -> None:
    """Insert a `referral_patient_row` unless a patient with its national id exists (then nothing changes:
    what a referral says never overwrites the record). The unique blind index decides, also against a
    concurrent insert; the caller finds the patient by `row["national_id_index"]`."""
    db.session.connection().execute(_insert_sealed_patient(db.session.get_bind().dialect.name), row)


_NATIONAL_ID_PURPOSE = Patient.__table__.c.national_id.type.purpose


@lru_cache(maxsize=2)
def _insert_sealed_patient(dialect_name: str):
    # The national id arrives sealed (referral_patient_row), so it is bound as plain text, not through
    # the column's EncryptedText, which would seal it again.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (dialect.insert(Patient.__table__).values(national_id=bindparam("national_id", type_=Text()))
            .on_conflict_do_nothing())


def fetch_or_create_patient_from_referral(*, fodselsnummer: str, first_name: str, last_name: str,
                                          email: str | None, phone: str | None, phone_needs_check: bool) -> int:
    """The id of the patient with this national id, created on first sight. Safe against a concurrent
    create: the unique blind index decides who was first, and the other uses that row."""
    row = referral_patient_row(fodselsnummer=fodselsnummer, first_name=first_name, last_name=last_name,
                               email=email, phone=phone, phone_needs_check=phone_needs_check)
    add_unless_known(row)
    return db.session.scalar(select(Patient.id).where(Patient.national_id_index == row["national_id_index"]))


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
                                   phone: str | None, language: str | None = None) -> tuple[Patient, bool]:
    """(patient, reused) for someone who proved their e-mail in the direct flow; in the caller's transaction.

    A returning patient keeps their record; only the phone they just gave replaces the old one, since
    that is where the link to the waiting room is sent. Safe against the same person starting twice at once.
    """
    index = direct_identity_index(email=email, last_name=last_name, birth_date=birth_date)
    patient = db.session.scalar(select(Patient).where(Patient.direct_identity_index == index))
    if patient is not None:
        if phone:
            patient.phone = phone
        patient.language = patient.language or language
        return patient, True
    # They asked in `language` (the page's): the clinic speaks it to them from now on.
    patient = Patient(first_name=first_name, last_name=last_name, birth_date=birth_date, email=email, phone=phone,
                      direct_identity_index=index, from_insurer_referral=False, marketing_allowed=False,
                      language=language)
    try:
        with db.session.begin_nested():
            db.session.add(patient)
    except IntegrityError:
        return db.session.scalar(select(Patient).where(Patient.direct_identity_index == index)), True
    return patient, False


class InvalidPatient(ValueError):
    """Details for a new patient that cannot be accepted; `errors` maps field name → message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def national_id_of(value: str) -> tuple[str, str]:
    """(kind, normalised) for a fødselsnummer (11 digits) or an NHS number (10); InvalidIdentifier otherwise."""
    digits = "".join(ch for ch in value or "" if not ch.isspace())
    if len(digits) == 11:
        return "fnr", normalise_fodselsnummer(digits)
    if len(digits) == 10:
        return "nhs", normalise_nhs_number(digits)
    raise InvalidIdentifier(_l("must be a fødselsnummer (11 digits) or an NHS number (10 digits)"))


def add_patient(*, national_id: str, first_name: str, last_name: str, birth_date, phone: str | None) -> Patient:
    """A new patient entered by staff, added to the caller's transaction (which the booking commits).

    The national id must pass its check digit, a fødselsnummer must agree with the birth date, and the
    phone must parse (a doubtful one is flagged, as for referrals). If the same person was added a
    moment ago by someone else, that record is used.
    """
    errors = {}
    kind = normalised = None
    try:
        kind, normalised = national_id_of(national_id)
    except InvalidIdentifier as exc:
        errors["national_id"] = _("The national id %(problem)s.", problem=exc)
    first_name, last_name = " ".join((first_name or "").split()), " ".join((last_name or "").split())
    if not first_name:
        errors["first_name"] = _("Enter the patient's first name.")
    if not last_name:
        errors["last_name"] = _("Enter the patient's last name.")
    if birth_date is None:
        errors["birth_date"] = _("Enter the patient's date of birth.")
    elif kind == "fnr" and birth_date_from_fodselsnummer(normalised) != birth_date:
        errors["birth_date"] = _("The date of birth does not match the fødselsnummer.")
    parsed_phone = None
    if phone and phone.strip():
        try:
            parsed_phone = parse_phone(phone.strip(), "NO" if kind == "fnr" else "GB")
        except InvalidIdentifier as exc:
            errors["phone"] = _("The phone %(problem)s.", problem=exc)
    if errors:
        raise InvalidPatient(errors)
    index = blind_index(kind, normalised)
    patient = Patient(national_id=normalised, national_id_index=index, national_id_kind=kind, first_name=first_name,
                      last_name=last_name, birth_date=birth_date, phone=parsed_phone.e164 if parsed_phone else None,
                      phone_needs_check=bool(parsed_phone and parsed_phone.needs_check))
    try:
        with db.session.begin_nested():
            db.session.add(patient)
    except IntegrityError:
        return db.session.scalar(select(Patient).where(Patient.national_id_index == index))
    return patient


def add_unidentified_patient(*, first_name: str, last_name: str, birth_date=None) -> Patient:
    """A patient a booking system sent without an NHS number, added to the caller's transaction.

    Each such booking is a new record: a name and birth date are not enough to be sure two bookings are
    the same person. The record's id is the local identifier the booking system gets back.
    """
    patient = Patient(first_name=first_name, last_name=last_name, birth_date=birth_date,
                      from_insurer_referral=False, marketing_allowed=False)
    db.session.add(patient)
    return patient


def language_of(patient_id: int) -> str | None:
    return db.session.scalar(select(Patient.language).where(Patient.id == patient_id))


def set_language(patient_id: int, language: str, *, actor: tuple[str, str]) -> bool:
    """Speak `language` to the patient from now on (pages, text messages, e-mail); in the caller's
    transaction, audited. Returns whether the record changed."""
    changed = db.session.execute(
        update(Patient).where(Patient.id == patient_id, Patient.language.is_distinct_from(language))
        .values(language=language)).rowcount == 1
    if changed:
        audit.record("patient.language_changed", patient_id=patient_id, actor=actor, language=language)
    return changed
