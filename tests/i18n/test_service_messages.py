"""What services say to people — why something cannot be done, what is wrong with an identifier — reads in the
reader's language: the messages are marked, and the lazy ones are said in the language of whoever reads them."""

from datetime import timedelta

import pytest

from portal.book_elsewhere import services as elsewhere
from portal.care_requests.models import AGE_NEEDS_TRIAGE, NO_FREE_SLOT, triage_reason_text
from portal.consultations import services as consultations
from portal.i18n.languages import speaking
from portal.patients import identifiers
from portal.security.models import utcnow
from tests.conftest import make_consultation, make_staff

INVALID = [
    (identifiers.normalise_fodselsnummer, "123", "must be 11 digits", "må ha 11 sifre"),
    (identifiers.normalise_fodselsnummer, "13116900217", "fails the fødselsnummer checksum", "har feil kontrollsiffer"),
    (identifiers.normalise_nhs_number, "12", "an NHS number has 10 digits", "et NHS-nummer har 10 sifre"),
    (identifiers.normalise_nhs_number, "9434765918", "the NHS number fails its check digit",
     "NHS-nummeret har feil kontrollsiffer"),
    (identifiers.parse_phone, "12", "is not a phone number (wrong number of digits)",
     "er ikke et telefonnummer (feil antall sifre)"),
    (identifiers.normalise_email, "no-at-sign", "is not an e-mail address", "er ikke en gyldig e-postadresse"),
]


@pytest.mark.parametrize("check, value, english, bokmal", INVALID)
def test_an_invalid_identifier_says_what_is_wrong_in_the_readers_language(app, check, value, english, bokmal):
    with pytest.raises(identifiers.InvalidIdentifier) as raised:
        check(value)
    with app.test_request_context():
        with speaking("en"):
            assert str(raised.value) == english
        with speaking("nb"):
            assert str(raised.value) == bokmal  # the same exception, read by someone else


def test_why_a_visit_went_to_triage_reads_in_the_readers_language_and_an_unknown_reason_as_stored(app):
    with app.test_request_context():
        with speaking("nb"):
            assert triage_reason_text(AGE_NEEDS_TRIAGE) == "Alderen krever triage"
            assert triage_reason_text(NO_FREE_SLOT) == "Ingen ledig time"
            assert triage_reason_text("Chest pain needs a clinician") == "Chest pain needs a clinician"
        with speaking("en"):
            assert triage_reason_text(NO_FREE_SLOT) == "No free slot"


def test_why_a_consultation_cannot_be_picked_reads_in_bokmal(app):
    consultation_id = make_consultation(app)
    first, second = make_staff(app, "doctor", "first@test.example"), make_staff(app, "doctor", "second@test.example")
    with app.test_request_context():
        consultation = consultations.get_consultation(consultation_id)
        consultations.pick_consultation(consultation, doctor_id=first)
        with speaking("nb"), pytest.raises(consultations.NotAllowedNow) as raised:
            consultations.pick_consultation(consultations.get_consultation(consultation_id), doctor_id=second)
    assert str(raised.value) == "Denne konsultasjonen kan ikke tas: en lege har tatt den, men den er ikke startet."


def test_why_a_slot_elsewhere_cannot_be_booked_reads_in_bokmal(app):
    started = elsewhere.RemoteSlot(id="1", start=utcnow() - timedelta(minutes=5), end=utcnow() + timedelta(minutes=5))
    with pytest.raises(elsewhere.RemoteSlotTaken) as raised:
        elsewhere.book_at(None, None, started)
    with app.test_request_context(), speaking("nb"):
        assert str(raised.value) == "den timen har allerede begynt"
