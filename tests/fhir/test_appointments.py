"""POST, GET and PUT /fhir/stu3/Appointment, every body validated against the STU3 models."""

import json

from sqlalchemy import func, select

from portal.extensions import db
from portal.patients.models import Patient
from portal.scheduling.models import Appointment, Slot
from portal.security.models import AuditEvent
from tests.conftest import slot_ids
from tests.fhir.conftest import FHIR_JSON, appointment_body, valid_stu3

START, END = "2030-01-07T09:00:00+00:00", "2030-01-07T09:15:00+00:00"


def post_appointment(client, headers, body, content_type=FHIR_JSON):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/fhir/stu3/Appointment", data=data, headers={**headers, "Content-Type": content_type})


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_booking_a_free_slot_is_201_with_location_and_the_stored_resource(app, client, bearer, diary_set_up):
    slot_id = slot_ids(app)[0]
    response = post_appointment(client, bearer(), appointment_body(slot_id, START, END))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = valid_stu3(response)
    contained = {r["resourceType"]: r for r in body["contained"]}
    assert body["status"] == "booked" and body["slot"] == [{"reference": f"#{contained['Slot']['id']}"}]
    assert body["start"] == START and body["end"] == END and body["meta"]["versionId"] == "1"
    assert contained["Patient"]["identifier"][0]["value"] == "9434765919"
    with app.app_context():
        assert contained["Slot"]["identifier"][0]["value"] == str(db.session.get(Slot, slot_id).uuid)
    assert response.headers["Location"].endswith(f"/fhir/stu3/Appointment/{body['id']}/_history/1")
    with app.app_context():
        assert db.session.get(Slot, slot_id).status == "busy"
        patient = db.session.scalar(select(Patient))
        assert patient.national_id_kind == "nhs" and patient.last_name == "Able"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.booked"))
        assert event.actor_type == "api_client"


def test_the_second_booking_of_a_slot_is_422_saying_it_is_taken(app, client, bearer, diary_set_up):
    slot_id = slot_ids(app)[0]
    headers = bearer()
    assert post_appointment(client, headers, appointment_body(slot_id, START, END)).status_code == 201
    again = post_appointment(client, headers, appointment_body(slot_id, START, END, nhs_number="4010232137"))
    assert again.status_code == 422
    body = valid_stu3(again)
    assert "no longer free" in body["issue"][0]["diagnostics"] and body["issue"][0]["code"] == "conflict"
    with app.app_context():
        assert count(Appointment) == 1
        assert count(Patient) == 1  # the loser's patient was not kept


def test_nhs_number_failing_its_check_digit_is_422(app, client, bearer, diary_set_up):
    slot_id = slot_ids(app)[0]
    response = post_appointment(client, bearer(), appointment_body(slot_id, START, END, nhs_number="9434765918"))
    assert response.status_code == 422
    issue = valid_stu3(response)["issue"][0]
    assert "check digit" in issue["diagnostics"] and issue["expression"] == ["Patient.identifier"]
    with app.app_context():
        assert count(Appointment) == 0 and db.session.get(Slot, slot_id).status == "free"


def test_invalid_resources_are_422_naming_every_problem(app, client, bearer, diary_set_up):
    slot_id = slot_ids(app)[0]
    body = appointment_body(slot_id, "soon", END, status="proposed", participant=[], description=42)
    response = post_appointment(client, bearer(), body)
    assert response.status_code == 422
    named = {e for issue in valid_stu3(response)["issue"] for e in issue.get("expression", [])}
    assert {"Appointment.status", "Appointment.start", "Appointment.participant", "Appointment.description"} <= named


def test_other_shapes_of_bad_input_are_never_a_500(app, client, bearer, diary_set_up):
    headers = bearer()
    slot_id = slot_ids(app)[0]
    cases = [
        (b'{"resourceType": ', 400),
        (b"[1, 2]", 400),
        (json.dumps({"resourceType": "Patient"}), 422),
        (json.dumps(appointment_body(slot_id, START, END, slot=[{"reference": "Slot/abc"}])), 422),
        (json.dumps(appointment_body(slot_id, START, END, slot="Slot/1")), 422),
        (json.dumps(appointment_body(slot_id, START, END, contained="nope")), 422),
        (json.dumps(appointment_body(slot_id, START, END, contained=[{"resourceType": "Patient", "id": "P1",
                                                                       "name": "x", "identifier": "y"}])), 422),
        (json.dumps(appointment_body(slot_id, START, END, participant=[{"actor": "#P1"}])), 422),
        (json.dumps(appointment_body(slot_id, 20300107, END)), 422),
        (json.dumps(appointment_body(999999, START, END)), 422),
    ]
    for data, status in cases:
        response = post_appointment(client, headers, data)
        assert response.status_code == status, (data, response.get_data(as_text=True))
        valid_stu3(response)
    wrong_type = post_appointment(client, headers, "hello", content_type="text/plain")
    assert wrong_type.status_code == 415
    valid_stu3(wrong_type)
    huge = post_appointment(client, headers, json.dumps(appointment_body(slot_id, START, END,
                                                                         comment="x" * 70000)))
    assert huge.status_code == 413
    valid_stu3(huge)
    with app.app_context():
        assert count(Appointment) == 0


def test_start_and_end_must_be_within_the_slot(app, client, bearer, diary_set_up):
    response = post_appointment(client, bearer(), appointment_body(slot_ids(app)[0], START,
                                                                   "2030-01-07T09:30:00+00:00"))
    assert response.status_code == 422
    assert "Appointment.end" in valid_stu3(response)["issue"][0]["expression"]


def test_times_in_another_zone_are_the_same_instant(app, client, bearer, diary_set_up):
    response = post_appointment(client, bearer(), appointment_body(slot_ids(app)[0], "2030-01-07T10:00:00+01:00",
                                                                   "2030-01-07T09:15:00Z"))
    assert response.status_code == 201


def test_read_an_appointment_is_audited(app, client, bearer, diary_set_up):
    headers = bearer()
    created = post_appointment(client, headers, appointment_body(slot_ids(app)[0], START, END)).json
    response = client.get(f"/fhir/stu3/Appointment/{created['id']}", headers=headers)
    assert response.status_code == 200
    assert valid_stu3(response)["id"] == created["id"]
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.read"))
        assert event.actor_type == "api_client" and event.patient_id is not None


def test_a_client_cannot_see_or_cancel_another_clients_appointment(app, client, bearer, diary_set_up):
    created = post_appointment(client, bearer(), appointment_body(slot_ids(app)[0], START, END)).json
    other = bearer()
    assert client.get(f"/fhir/stu3/Appointment/{created['id']}", headers=other).status_code == 404
    cancel = client.put(f"/fhir/stu3/Appointment/{created['id']}", data=json.dumps({**created, "status": "cancelled"}),
                        headers={**other, "Content-Type": FHIR_JSON, "If-Match": 'W/"1"'})
    assert cancel.status_code == 404
    valid_stu3(cancel)
    assert client.get("/fhir/stu3/Appointment/999999", headers=other).status_code == 404


def test_cancelling_with_put_frees_the_slot(app, client, bearer, diary_set_up):
    headers = {**bearer(), "Content-Type": FHIR_JSON}
    slot_id = slot_ids(app)[0]
    created = post_appointment(client, headers, appointment_body(slot_id, START, END)).json
    response = client.put(f"/fhir/stu3/Appointment/{created['id']}",
                          data=json.dumps({**created, "status": "cancelled"}), headers={**headers, "If-Match": 'W/"1"'})
    assert response.status_code == 200
    body = valid_stu3(response)
    assert body["status"] == "cancelled" and body["meta"]["versionId"] == "2"
    with app.app_context():
        assert db.session.get(Slot, slot_id).status == "free"
    headers["If-Match"] = 'W/"2"'
    cancelled = {**response.json}
    again = client.put(f"/fhir/stu3/Appointment/{created['id']}", data=json.dumps(cancelled), headers=headers)
    assert again.status_code == 200 and again.json["status"] == "cancelled" and again.json["meta"]["versionId"] == "2"
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.read"))
    rebook = client.put(f"/fhir/stu3/Appointment/{created['id']}",
                        data=json.dumps({**cancelled, "status": "booked"}), headers=headers)
    assert rebook.status_code == 422
    valid_stu3(rebook)
    assert post_appointment(client, headers, appointment_body(slot_id, START, END)).status_code == 201


def test_put_with_bad_bodies_is_refused(app, client, bearer, diary_set_up):
    headers = {**bearer(), "Content-Type": FHIR_JSON}
    created = post_appointment(client, headers, appointment_body(slot_ids(app)[0], START, END)).json
    url = f"/fhir/stu3/Appointment/{created['id']}"
    headers["If-Match"] = 'W/"1"'
    assert client.put(url, data=json.dumps({**created, "id": "77", "status": "cancelled"}),
                      headers=headers).status_code == 400
    assert client.put(url, data=json.dumps({**created, "status": "arrived"}), headers=headers).status_code == 422
    assert client.put(url, data=b"{", headers=headers).status_code == 400
    with app.app_context():
        assert db.session.get(Appointment, int(created["id"])).status == "booked"


def test_booking_needs_the_write_scope_and_reading_it_too(app, client, bearer, diary_set_up):
    read_only = bearer(["slot/*.read"])
    response = post_appointment(client, read_only, appointment_body(slot_ids(app)[0], START, END))
    assert response.status_code == 403
    valid_stu3(response)
    assert client.get("/fhir/stu3/Appointment/1", headers=read_only).status_code == 403


def test_booking_a_slot_in_the_past_is_422(app, client, bearer, diary_set_up):
    from datetime import date

    from portal.scheduling import services

    with app.app_context():
        services.generate_slots(diary_set_up["schedule_id"], date(2020, 1, 6), date(2020, 1, 6))
    past = slot_ids(app)[0]
    response = post_appointment(client, bearer(), appointment_body(past, "2020-01-06T09:00:00Z",
                                                                   "2020-01-06T09:15:00Z"))
    assert response.status_code == 422
    assert "already started" in valid_stu3(response)["issue"][0]["diagnostics"]


def test_ids_too_big_for_the_database_are_client_errors(app, client, bearer, diary_set_up):
    headers = bearer()
    huge = "99999999999999"
    assert post_appointment(client, headers, appointment_body(huge, START, END)).status_code == 422
    assert client.get(f"/fhir/stu3/Appointment/{huge}", headers=headers).status_code == 404
    assert client.get(f"/fhir/stu3/Slot?schedule.actor:HealthcareService={huge}", headers=headers).status_code == 400
    assert client.get("/fhir/stu3/Slot?schedule.actor:HealthcareService=2147483648",
                      headers=headers).status_code == 400
