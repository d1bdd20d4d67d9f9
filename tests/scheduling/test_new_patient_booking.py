"""A secretary books a slot for a patient the portal does not know yet: the patient is created in
the booking's transaction, with the national id, names, birth date and phone checked."""

from datetime import date

from sqlalchemy import func, select

from portal.extensions import db
from portal.patients.models import Patient
from portal.patients.services import find_patient_by_national_id
from portal.scheduling import services
from portal.scheduling.models import Appointment, Slot
from portal.security.models import AuditEvent
from tests.conftest import VALID_NHS_NUMBER, make_patient, slot_ids

FNR = "13116900216"  # born 1969-11-13
NEW = {"national_id": FNR, "first_name": "Line", "last_name": "Danser", "birth_date": "1969-11-13",
       "phone": "912 34 567", "description": "Knee"}


def book(c, slot_id, data):
    return c.post(f"/slots/{slot_id}/book", data={"csrf_token": c.csrf, **data})


def counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Patient)),
                db.session.scalar(select(func.count()).select_from(Appointment)))


def test_a_new_patient_is_created_with_the_booking(app, staff_client, diary_set_up):
    slot_id = slot_ids(app)[0]
    secretary = staff_client("secretary")
    booked = book(secretary, slot_id, NEW)
    assert booked.status_code == 302, booked.get_data(as_text=True)
    assert "Booked Line Danser" in secretary.get(booked.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        patient = find_patient_by_national_id(FNR)
        assert patient.birth_date == date(1969, 11, 13) and patient.phone == "+4791234567"
        assert patient.national_id_kind == "fnr" and not patient.from_insurer_referral
        appointment = db.session.scalar(select(Appointment))
        assert appointment.patient_id == patient.id and appointment.description == "Knee"
        created = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.created"))
        assert created.patient_id == patient.id and created.actor_type == "staff"


def test_a_new_patient_with_an_nhs_number_and_a_british_phone(app, staff_client, diary_set_up):
    slot_id = slot_ids(app)[1]
    secretary = staff_client("secretary")
    booked = book(secretary, slot_id, {"national_id": "943 476 5919", "first_name": "Amy", "last_name": "Able",
                                       "birth_date": "1980-02-01", "phone": "07700 900123"})
    assert booked.status_code == 302, booked.get_data(as_text=True)
    with app.app_context():
        patient = find_patient_by_national_id(VALID_NHS_NUMBER)
        assert patient.national_id_kind == "nhs" and patient.phone == "+447700900123"


def test_an_unknown_id_without_details_asks_for_them(app, staff_client, diary_set_up):
    secretary = staff_client("secretary")
    response = book(secretary, slot_ids(app)[0], {"national_id": FNR})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "fill in their details below" in html
    assert '<details class="new-patient" open>' in html
    assert counts(app) == (0, 0)


def test_bad_details_are_field_errors_and_nothing_is_kept(app, staff_client, diary_set_up):
    slot_id = slot_ids(app)[0]
    secretary = staff_client("secretary")
    cases = [
        ({"national_id": "13116900217"}, "national_id", "checksum"),
        ({"national_id": "9434765918"}, "national_id", "check digit"),
        ({"national_id": "12345"}, "national_id", "fødselsnummer (11 digits) or an NHS number"),
        ({"birth_date": "1970-01-01"}, "birth_date", "does not match the fødselsnummer"),
        ({"birth_date": "13.11.1969"}, "birth_date", "date"),
        ({"phone": "12"}, "phone", "wrong number of digits"),
        ({"phone": "not a phone"}, "phone", "is not a phone number"),
        ({"first_name": "   "}, "first_name", "first name"),
        ({"last_name": ""}, "last_name", "last name"),
        ({"first_name": "\u200b"}, "first_name", "only invisible"),
        ({"last_name": "Dan\x00ser"}, "last_name", "control character U+0000"),
        ({"last_name": "Danser\u202eresnaD"}, "last_name", "text-direction control U+202E"),
        ({"description": "Knee\x1b[31m"}, "description", "control character U+001B"),
    ]
    for change, field, words in cases:
        response = book(secretary, slot_id, {**NEW, **change})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (change, html)
        assert f'id="{field}-error"' in html and words in html, (change, field)
    assert counts(app) == (0, 0)
    with app.app_context():
        assert db.session.get(Slot, slot_id).status == "free"


def test_a_taken_slot_leaves_no_new_patient_behind(app, staff_client, diary_set_up):
    slot_id = slot_ids(app)[0]
    other = make_patient(app, fnr="01010150040", last_name="Other")
    with app.app_context():
        services.book_slot(slot_id, patient_id=other, actor=("staff", "1"))
    late = book(staff_client("secretary"), slot_id, NEW)
    assert late.status_code == 409 and "no longer free" in late.get_data(as_text=True)
    with app.app_context():
        assert find_patient_by_national_id(FNR) is None
    assert counts(app) == (1, 1)


def test_a_known_patient_is_booked_as_known_and_not_overwritten(app, staff_client, diary_set_up):
    known = make_patient(app, fnr=FNR, last_name="Danser")
    booked = book(staff_client("secretary"), slot_ids(app)[0], {**NEW, "first_name": "Someone", "phone": "+4799999999"})
    assert booked.status_code == 302
    with app.app_context():
        patient = db.session.get(Patient, known)
        assert patient.first_name == "Line" and patient.phone == "+4791234567"
        assert db.session.scalar(select(Appointment.patient_id)) == known
    assert counts(app) == (1, 1)


def test_in_bokmal_the_details_objections_read_in_bokmal(app, staff_client, diary_set_up):
    slot_id = slot_ids(app)[0]
    secretary = staff_client("secretary")
    cases = [
        ({"national_id": "13116900217"}, "Fødselsnummeret: har feil kontrollsiffer."),
        ({"national_id": "9434765918"}, "NHS-nummeret har feil kontrollsiffer"),
        ({"national_id": "12345"}, "må være et fødselsnummer (11 sifre) eller et NHS-nummer (10 sifre)"),
        ({"birth_date": "1970-01-01"}, "Fødselsdatoen stemmer ikke med fødselsnummeret."),
        ({"phone": "12"}, "Telefonnummeret: er ikke et telefonnummer (feil antall sifre)."),
        ({"first_name": "   "}, "Skriv inn pasientens fornavn."),
    ]
    for change, words in cases:
        response = secretary.post(f"/slots/{slot_id}/book", headers={"Accept-Language": "nb"},
                                  data={"csrf_token": secretary.csrf, **NEW, **change})
        html = response.get_data(as_text=True).replace("&#39;", "'")
        assert response.status_code == 422 and words in html, (change, words)
    assert counts(app) == (0, 0)
