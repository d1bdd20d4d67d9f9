"""The FHIR API answers hostile and unusual input with an OperationOutcome naming the element, never a 500."""

import json

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.scheduling.models import Appointment
from tests.conftest import slot_ids
from tests.fhir.conftest import FHIR_JSON, appointment_body, valid_stu3

START, END = "2030-01-07T09:00:00+00:00", "2030-01-07T09:15:00+00:00"


def send(client, method, url, headers, data: bytes | str):
    return client.open(url, method=method, data=data, headers={**headers, "Content-Type": FHIR_JSON})


def expressions(response) -> set:
    return {e for issue in response.json["issue"] for e in issue.get("expression") or []}


def assert_outcome(response, status: int, expression: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = valid_stu3(response)
    assert body["resourceType"] == "OperationOutcome"
    if expression is not None:
        assert expression in expressions(response), body


def raw_body(slot_id: int, **raw) -> str:
    """An Appointment as JSON text with some values replaced by raw JSON text."""
    body = appointment_body(slot_id, START, END, **{key: f"@{key}@" for key in raw})
    text = json.dumps(body)
    for key, value in raw.items():
        text = text.replace(f'"@{key}@"', value)
    return text


@pytest.fixture
def booking(app, client, bearer, diary_set_up):
    return {"slot_id": slot_ids(app)[0], "headers": bearer()}


def booked(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Appointment))


def test_json_nested_3000_deep_is_400(app, client, booking):
    text = raw_body(booking["slot_id"], description="[" * 3000 + "]" * 3000)
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], text)
    assert_outcome(response, 400)
    assert "nested deeper" in response.json["issue"][0]["diagnostics"]
    assert booked(app) == 0


def test_json_nested_a_little_too_deep_is_400_naming_the_element(app, client, booking):
    text = raw_body(booking["slot_id"], description="[" * 20 + "]" * 20)
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], text)
    assert_outcome(response, 400, "Appointment.description" + "[0]" * 15)


def test_a_5000_digit_integer_is_400_naming_the_element(app, client, booking):
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"],
                    raw_body(booking["slot_id"], minutesDuration="9" * 5000))
    assert_outcome(response, 400, "Appointment.minutesDuration")


@pytest.mark.parametrize("where", ["description", "comment"])
def test_a_lone_surrogate_is_400_naming_the_element(app, client, booking, where):
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"],
                    raw_body(booking["slot_id"], **{where: '"Minor \\ud83d injury"'}))
    assert_outcome(response, 400, f"Appointment.{where}")
    assert "Unicode" in response.json["issue"][0]["diagnostics"]


def test_a_lone_surrogate_in_the_patient_name_is_400_naming_it(app, client, booking):
    text = json.dumps(appointment_body(booking["slot_id"], START, END)).replace('"Able"', '"Ab\\udfffle"')
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], text)
    assert_outcome(response, 400, "Appointment.contained[0].name[0].family")


@pytest.mark.parametrize("start, end", [
    ("9999-12-31T23:59:59-23:59", END), (START, "0001-01-01T00:00:00+23:59"),
    ("9999-12-31T23:59:59.999999999-01:00", END), ("2030-01-07T24:00:00Z", END), ("2030-01-07T09:00:00+24:00", END),
])
def test_instants_that_overflow_or_do_not_exist_are_422_naming_them(app, client, booking, start, end):
    body = appointment_body(booking["slot_id"], start, end)
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], json.dumps(body))
    assert_outcome(response, 422)
    assert expressions(response) & {"Appointment.start", "Appointment.end"}
    assert booked(app) == 0


@pytest.mark.parametrize("birth_date", ["0001-01-01", "9999-12-31", "19800501", "1980-W18-4", "1980-05-01T00:00"])
def test_a_birth_date_that_is_not_a_plain_date_in_range_is_422(app, client, booking, birth_date):
    body = appointment_body(booking["slot_id"], START, END)
    body["contained"][0]["birthDate"] = birth_date
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], json.dumps(body))
    assert_outcome(response, 422, "Patient.birthDate")


@pytest.mark.parametrize("family, why", [("\u200b", "visible"), ("Ab\x00le", "control"),
                                         ("Able\u202eelbA", "direction"), ("\u2800\u3164", "visible")])
def test_names_that_are_no_names_are_422_with_a_clear_message(app, client, booking, family, why):
    body = appointment_body(booking["slot_id"], START, END)
    body["contained"][0]["name"][0]["family"] = family
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], json.dumps(body))
    assert_outcome(response, 422, "Patient.name.family")
    assert why in response.json["issue"][0]["diagnostics"]
    assert booked(app) == 0


def test_a_free_text_comment_keeps_its_line_breaks_but_not_its_controls(app, client, booking):
    body = appointment_body(booking["slot_id"], START, END, comment="Line one\r\nLine two\x07")
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], json.dumps(body))
    assert_outcome(response, 422, "Appointment.comment")


def test_names_are_stored_in_nfc(app, client, booking):
    body = appointment_body(booking["slot_id"], START, END)
    body["contained"][0]["name"][0] = {"family": "Mu\u0308ller", "given": ["Zoe\u0308"]}
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], json.dumps(body))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["contained"][0]["name"][0] == {"family": "M\u00fcller", "given": ["Zo\u00eb"]}


@pytest.fixture
def appointment(app, client, booking):
    body = appointment_body(booking["slot_id"], START, END)
    response = send(client, "POST", "/fhir/stu3/Appointment", booking["headers"], json.dumps(body))
    assert response.status_code == 201
    return response.json


@pytest.mark.parametrize("text, status", [
    ('{"resourceType": "Appointment", "status": "cancelled", "id": ' + "9" * 5000 + "}", 400),
    ('{"resourceType": "Appointment", "status": "cancelled", "x": ' + "[" * 3000 + "]" * 3000 + "}", 400),
    ('{"resourceType": "Appointment", "status": "cancel\\ud800led"}', 400),
    ('{"resourceType": "Appointment", "status": "cancelled", "status": "booked"}', 400),
    ('{"resourceType": "Appointment", "status": NaN}', 400),
])
def test_put_answers_the_same_classes_with_4xx(app, client, booking, appointment, text, status):
    response = send(client, "PUT", f"/fhir/stu3/Appointment/{appointment['id']}", booking["headers"], text)
    assert_outcome(response, status)
    with app.app_context():
        assert db.session.get(Appointment, int(appointment["id"])).status == "booked"


@pytest.mark.parametrize("start", ["ge9999-12-31T23:59:59-23:59", "gt9999-12-31", "le0001-01-01T00:00:00+23:59",
                                   "lt0001-01-01", "eq9999-12-31", "ge2030-01-07T09:00:00.99999999999999999999Z",
                                   "ge٢٠٣٠-01-07", "ge2030-01-07T09:00+99:00"])
def test_slot_search_with_a_start_out_of_range_is_400_naming_start(client, bearer, diary_set_up, start):
    service = diary_set_up["service_id"]
    response = client.get(f"/fhir/stu3/Slot?schedule.actor:HealthcareService={service}&start={start}",
                          headers=bearer())
    assert_outcome(response, 400, "start")


def test_ids_past_the_database_range_are_not_found_on_every_api(client, bearer, staff_client):
    headers = bearer()
    big = "9" * 30
    assert client.get(f"/fhir/stu3/Appointment/{big}", headers=headers).status_code == 404
    assert client.get(f"/api/consultations/{big}").status_code == 404
    doctor = staff_client("doctor")
    assert doctor.get(f"/api/consultations/{big}").status_code == 404
    assert doctor.get(f"/consultations/{big}").status_code == 404
