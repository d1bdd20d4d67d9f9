"""book_an_appointment.html, appointment.html, patient.html, document_reference.html: the booking example."""

import json

import pytest
from sqlalchemy import func, select, text

from portal.extensions import db
from portal.patients.models import Patient
from portal.scheduling.models import Appointment, Slot
from tests.fhir.conformance import examples
from tests.fhir.conformance.conftest import SLOT_END, SLOT_START, book_example, slot_row
from tests.fhir.conftest import FHIR_JSON, valid_stu3


def contained(body: dict) -> dict[str, dict]:
    return {r["resourceType"]: r for r in body["contained"]}


def post(client, headers, body):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/fhir/stu3/Appointment", data=data, headers={**headers, "Content-Type": FHIR_JSON})


def example(app, **kwargs) -> dict:
    slot_id, slot_uuid, schedule_id = slot_row(app)
    return examples.booking_body(slot_uuid=slot_uuid, schedule_id=schedule_id, start=SLOT_START, end=SLOT_END,
                                 appointment_end="2030-01-07T09:10:00+00:00", nhs_number="9434765919", **kwargs)


@pytest.mark.requirement("BK-01", "BK-03", "BK-06", "AP-02", "AP-03")
def test_the_booking_example_is_booked(app, client, consumer, diary_set_up):
    response = book_example(client, app, consumer)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = valid_stu3(response)
    assert body["id"] and body["meta"]["versionId"] == "1" and body["status"] == "booked"
    assert (body["start"], body["end"]) == (SLOT_START, "2030-01-07T09:10:00+00:00")  # 10 minutes of the slot
    slot_id, slot_uuid, _ = slot_row(app)
    with app.app_context():
        assert db.session.get(Slot, slot_id).status == "busy"
        appointment = db.session.get(Appointment, int(body["id"]))
        assert appointment.slot_id == slot_id and appointment.booked_by.startswith("api_client:")
    # created is the provider's moment, not the example's 2019 one.
    assert body["created"] != "2019-01-17T14:32:22.579+00:00" and body["created"].startswith("20")


@pytest.mark.requirement("BK-02")
@pytest.mark.parametrize("field, value", [("start", "2030-01-07T09:15:00+00:00"), ("end", "2030-01-07T09:30:00+00:00"),
                                          ("schedule", {"reference": "Schedule/999"})])
def test_a_contained_slot_that_is_not_the_slot_is_422(app, client, consumer, diary_set_up, field, value):
    body = example(app)
    contained(body)["Slot"][field] = value
    response = post(client, consumer, body)
    assert response.status_code == 422
    assert f"Slot.{field}" in valid_stu3(response)["issue"][0]["expression"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 0


@pytest.mark.requirement("BK-02", "BK-08")
def test_a_contained_slot_with_an_unknown_identifier_is_422(app, client, consumer, diary_set_up):
    body = example(app)
    contained(body)["Slot"]["identifier"][0]["value"] = "1db79eb3-72f8-4569-a8dc-af8759797e0f"
    response = post(client, consumer, body)
    assert response.status_code == 422 and valid_stu3(response)["issue"][0]["code"] == "not-found"


@pytest.mark.requirement("BK-15")
@pytest.mark.parametrize("reference", ["Slot/{id}", "http://localhost/fhir/stu3/Slot/{id}"])
def test_the_slot_may_be_referenced_as_slot_id(app, client, consumer, diary_set_up, reference):
    slot_id = slot_row(app)[0]
    body = example(app)
    body["slot"] = [{"reference": reference.format(id=slot_id)}]
    body["contained"] = [r for r in body["contained"] if r["resourceType"] != "Slot"]
    response = post(client, consumer, body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert contained(valid_stu3(response))["Slot"]["identifier"][0]["value"] == slot_row(app)[1]


@pytest.mark.requirement("BK-04", "BK-05", "BK-07")
def test_201_has_the_version_location_etag_and_last_modified_and_the_location_can_be_read(app, client, consumer,
                                                                                          diary_set_up):
    response = book_example(client, app, consumer)
    body = response.json
    location = response.headers["Location"]
    assert location == f"http://localhost/fhir/stu3/Appointment/{body['id']}/_history/1"
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Last-Modified"].endswith(" GMT")
    read = client.get(location.removeprefix("http://localhost"), headers=consumer)
    assert read.status_code == 200 and valid_stu3(read)["id"] == body["id"]
    cancel = client.put(f"/fhir/stu3/Appointment/{body['id']}", data=json.dumps({**body, "status": "cancelled"}),
                        headers={**consumer, "Content-Type": FHIR_JSON, "If-Match": response.headers["ETag"]})
    assert cancel.status_code == 200


@pytest.mark.requirement("BK-08")
def test_a_slot_no_longer_free_is_422_with_an_operation_outcome(app, client, consumer, diary_set_up):
    assert book_example(client, app, consumer).status_code == 201
    again = book_example(client, app, consumer, nhs_number="4010232137")
    assert again.status_code == 422
    issue = valid_stu3(again)["issue"][0]
    assert issue["code"] == "conflict" and "no longer free" in issue["diagnostics"]


@pytest.mark.requirement("BK-08")
def test_a_slot_that_has_started_is_422(app, client, consumer, diary_set_up):
    from datetime import date

    from portal.scheduling import services

    with app.app_context():
        services.generate_slots(diary_set_up["schedule_id"], date(2020, 1, 6), date(2020, 1, 6))
    response = book_example(client, app, consumer, start="2020-01-06T09:00:00+00:00", end="2020-01-06T09:15:00+00:00",
                            appointment_end="2020-01-06T09:15:00+00:00")
    assert response.status_code == 422 and "already started" in valid_stu3(response)["issue"][0]["diagnostics"]


@pytest.mark.requirement("BK-09")
@pytest.mark.parametrize("change, named", [
    (lambda b: b.update(status="proposed"), "Appointment.status"),
    (lambda b: b.update(start="soon"), "Appointment.start"),
    (lambda b: b.update(end="2030-01-07T08:00:00Z"), "Appointment.end"),
    (lambda b: b.update(participant=[]), "Appointment.participant"),
    (lambda b: b.update(slot=[{"reference": "#nowhere"}]), "Appointment.slot"),
    (lambda b: contained(b)["Slot"].pop("identifier"), "Slot.identifier"),
    (lambda b: contained(b)["Patient"]["identifier"][0].update(value="9434765918"), "Patient.identifier"),
    (lambda b: contained(b)["Patient"].pop("name"), "Patient.name.family"),
    (lambda b: b.update(supportingInformation=[{"reference": "#missing"}]), "Appointment.supportingInformation"),
])
def test_a_body_failing_the_profiles_is_422_naming_the_element(app, client, consumer, diary_set_up, change, named):
    body = example(app)
    change(body)
    response = post(client, consumer, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert named in {e for issue in valid_stu3(response)["issue"] for e in issue.get("expression", [])}


@pytest.mark.requirement("BK-10")
def test_no_valid_token_is_403(app, client, diary_set_up):
    response = post(client, {"Authorization": "Bearer not-a-token"}, example(app))
    assert response.status_code == 403 and valid_stu3(response)["resourceType"] == "OperationOutcome"


@pytest.mark.requirement("BK-11")
@pytest.mark.parametrize("data", [b'{"resourceType": ', b"[1, 2]", b'"Appointment"', b"\xff\xfe"])
def test_a_body_that_is_simply_invalid_is_400(app, client, consumer, diary_set_up, data):
    response = post(client, consumer, data)
    assert response.status_code == 400
    valid_stu3(response)


@pytest.mark.requirement("BK-13", "BK-14")
def test_request_and_correlation_ids(app, client, consumer, diary_set_up):
    kept = client.get("/fhir/stu3/metadata", headers={"X-Request-Id": "5a889965-3db4-4c29-8003-676c247a763e"})
    assert kept.headers["X-Request-Id"] == "5a889965-3db4-4c29-8003-676c247a763e"
    assert "X-Correlation-Id" not in kept.headers
    replaced = client.get("/fhir/stu3/metadata", headers={"X-Request-Id": "short id!"})
    assert replaced.headers["X-Request-Id"] != "short id!" and len(replaced.headers["X-Request-Id"]) == 32
    assert replaced.headers["X-Correlation-Id"] == "short id!"
    assigned = client.get("/fhir/stu3/metadata")
    assert assigned.headers["X-Request-Id"] and "X-Correlation-Id" not in assigned.headers
    echoed = book_example(client, app, {**consumer, "X-Correlation-Id": "conversation-42"})
    assert echoed.status_code == 201 and echoed.headers["X-Correlation-Id"] == "conversation-42"


@pytest.mark.requirement("AP-01")
def test_an_id_in_the_request_is_ignored_the_server_assigns_one(app, client, consumer, diary_set_up):
    body = example(app)
    body["id"] = "cfd9eba2-cc66-4195-a70c-10112ab1c838"
    response = post(client, consumer, body)
    assert response.status_code == 201 and response.json["id"] != body["id"] and response.json["id"].isdigit()


@pytest.mark.requirement("AP-04", "AP-05", "DR-01", "PA-03", "PA-04", "GA-07")
def test_the_contained_document_and_patient_are_kept_as_sent(app, client, consumer, diary_set_up):
    sent = example(app)
    created = valid_stu3(post(client, consumer, sent))
    read = valid_stu3(client.get(f"/fhir/stu3/Appointment/{created['id']}", headers=consumer))
    for body in (created, read):
        kept = contained(body)
        assert kept["DocumentReference"] == contained(sent)["DocumentReference"]
        assert kept["Patient"] == contained(sent)["Patient"]  # NHS number with its verification extension
        assert [r["resourceType"] for r in body["contained"]] == ["DocumentReference", "Patient", "Slot"]
        assert body["supportingInformation"] == [{"reference": "#123"}]
        assert body["description"] == "Reason for calling"
        assert body["participant"][0]["actor"]["reference"] == "#P1"
        assert body["participant"][0]["actor"]["identifier"]["value"] == "9434765919"
    with app.app_context():
        stored = db.session.execute(text("SELECT booked_details FROM appointments")).scalar()
        assert "Chalmers" not in stored and "High Street" not in stored  # sealed at rest


@pytest.mark.requirement("PA-01", "PA-02")
def test_a_patient_without_an_nhs_number_gets_our_local_identifier(app, client, consumer, diary_set_up):
    body = example(app)
    del contained(body)["Patient"]["identifier"]
    created = post(client, consumer, body)
    assert created.status_code == 201, created.get_data(as_text=True)
    patient = contained(valid_stu3(created))["Patient"]
    with app.app_context():
        record = db.session.scalar(select(Patient))
        assert record.national_id is None and record.last_name == "Chalmers"
    assert patient["identifier"] == [{"use": "usual", "system": "http://127.0.0.1:5000/fhir/stu3/Id/patient",
                                      "value": str(record.id)}]
    read = valid_stu3(client.get(f"/fhir/stu3/Appointment/{created.json['id']}", headers=consumer))
    assert contained(read)["Patient"]["identifier"] == patient["identifier"]
    found = valid_stu3(client.get("/fhir/stu3/Appointment?patient.identifier="
                                  f"http://127.0.0.1:5000/fhir/stu3/Id/patient|{record.id}", headers=consumer))
    assert [e["resource"]["id"] for e in found["entry"]] == [created.json["id"]]
    cancel = client.put(f"/fhir/stu3/Appointment/{read['id']}", data=json.dumps({**read, "status": "cancelled"}),
                        headers={**consumer, "Content-Type": FHIR_JSON, "If-Match": 'W/"1"'})
    assert cancel.status_code == 200 and contained(cancel.json)["Patient"]["identifier"] == patient["identifier"]


@pytest.mark.requirement("PA-01")
def test_a_patient_without_an_nhs_number_needs_a_birth_date(app, client, consumer, diary_set_up):
    body = example(app)
    del contained(body)["Patient"]["identifier"]
    del contained(body)["Patient"]["birthDate"]
    response = post(client, consumer, body)
    assert response.status_code == 422 and valid_stu3(response)["issue"][0]["expression"] == ["Patient.birthDate"]
