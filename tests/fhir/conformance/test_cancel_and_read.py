"""cancel_an_appointment.html and get_an_appointment.html (and developing.html's versioning)."""

import json
import threading

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.scheduling.models import Appointment, AppointmentVersion, Slot
from tests.fhir.conformance import examples
from tests.fhir.conformance.conftest import SLOT_START, book_example, slot_row
from tests.fhir.conftest import FHIR_JSON, valid_stu3


@pytest.fixture
def booked(app, client, consumer, diary_set_up):
    """The booking example booked, then read back as a consumer must before cancelling."""
    created = book_example(client, app, consumer)
    assert created.status_code == 201
    read = client.get(f"/fhir/stu3/Appointment/{created.json['id']}", headers=consumer)
    return valid_stu3(read)


def put(client, headers, appointment_id, body, if_match='W/"1"'):
    extra = {"If-Match": if_match} if if_match else {}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.put(f"/fhir/stu3/Appointment/{appointment_id}", data=data,
                      headers={**headers, "Content-Type": FHIR_JSON, **extra})


@pytest.mark.requirement("CA-01", "CA-03", "CA-04", "CA-05", "AP-06")
def test_the_cancelling_example_cancels(app, client, consumer, booked):
    response = put(client, consumer, booked["id"], examples.cancelling_body(booked))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = valid_stu3(response)
    assert body["status"] == "cancelled" and body["meta"]["versionId"] == "2"
    assert response.headers["Location"] == f"http://localhost/fhir/stu3/Appointment/{booked['id']}/_history/2"
    assert response.headers["ETag"] == 'W/"2"'
    with app.app_context():
        assert db.session.get(Slot, slot_row(app)[0]).status == "free"
    assert valid_stu3(client.get(response.headers["Location"].removeprefix("http://localhost"),
                                 headers=consumer))["status"] == "cancelled"


@pytest.mark.requirement("CA-02", "GA-02")
def test_the_previous_version_is_kept(app, client, consumer, booked):
    put(client, consumer, booked["id"], examples.cancelling_body(booked))
    first = client.get(f"/fhir/stu3/Appointment/{booked['id']}/_history/1", headers=consumer)
    assert first.status_code == 200
    body = valid_stu3(first)
    assert body["status"] == "booked" and body["meta"]["versionId"] == "1"
    assert {k: v for k, v in body.items() if k != "meta"} == {k: v for k, v in booked.items() if k != "meta"}
    second = valid_stu3(client.get(f"/fhir/stu3/Appointment/{booked['id']}/_history/2", headers=consumer))
    assert second["status"] == "cancelled"
    with app.app_context():
        versions = db.session.scalars(select(AppointmentVersion.status).order_by(AppointmentVersion.version)).all()
        assert versions == ["booked", "cancelled"]


@pytest.mark.requirement("CA-06")
@pytest.mark.parametrize("change, named", [
    (lambda b: b.update(description="Something else"), "description"),
    (lambda b: b.update(end="2030-01-07T09:15:00+00:00"), "end"),
    (lambda b: b["contained"][1].update(gender="female"), "contained"),
    (lambda b: b.pop("supportingInformation"), "supportingInformation"),
    (lambda b: b.update(comment="added"), "comment"),
])
def test_any_change_but_status_is_422(app, client, consumer, booked, change, named):
    body = examples.cancelling_body(booked)
    change(body)
    response = put(client, consumer, booked["id"], body)
    assert response.status_code == 422
    assert f"Appointment.{named}" in valid_stu3(response)["issue"][0]["expression"]
    with app.app_context():
        assert db.session.get(Appointment, int(booked["id"])).status == "booked"


@pytest.mark.requirement("CA-06")
def test_instants_written_another_way_are_not_a_change(app, client, consumer, booked):
    body = examples.cancelling_body(booked)
    body["start"] = body["start"].replace("+00:00", "Z")
    assert put(client, consumer, booked["id"], body).status_code == 200


@pytest.mark.requirement("CA-07")
@pytest.mark.parametrize("status", ["arrived", "noshow", None])
def test_a_status_we_cannot_set_is_422(app, client, consumer, booked, status):
    body = {**booked, "status": status}
    response = put(client, consumer, booked["id"], body)
    assert response.status_code == 422
    valid_stu3(response)


@pytest.mark.requirement("CA-08", "GA-04")
def test_no_valid_token_is_403(app, client, booked):
    headers = {"Authorization": "Bearer expired.or.forged"}
    response = put(client, headers, booked["id"], examples.cancelling_body(booked))
    assert response.status_code == 403 and valid_stu3(response)["resourceType"] == "OperationOutcome"
    read = client.get(f"/fhir/stu3/Appointment/{booked['id']}", headers=headers)
    assert read.status_code == 403 and valid_stu3(read)["resourceType"] == "OperationOutcome"


@pytest.mark.requirement("CA-09")
def test_a_stale_version_is_409(app, client, consumer, booked):
    assert put(client, consumer, booked["id"], examples.cancelling_body(booked)).status_code == 200
    stale = put(client, consumer, booked["id"], examples.cancelling_body(booked), if_match='W/"1"')
    assert stale.status_code == 409 and valid_stu3(stale)["issue"][0]["code"] == "conflict"
    assert put(client, consumer, booked["id"], examples.cancelling_body(booked), if_match='"7"').status_code == 409


@pytest.mark.requirement("CA-10")
def test_no_if_match_is_412(app, client, consumer, booked):
    response = put(client, consumer, booked["id"], examples.cancelling_body(booked), if_match=None)
    assert response.status_code == 412 and valid_stu3(response)["issue"][0]["expression"] == ["If-Match"]
    with app.app_context():
        assert db.session.get(Appointment, int(booked["id"])).status == "booked"


@pytest.mark.requirement("CA-11")
@pytest.mark.parametrize("data", [b"{", b"[]", json.dumps({"resourceType": "Appointment", "id": "77",
                                                           "status": "cancelled"})])
def test_a_body_that_is_simply_invalid_is_400(app, client, consumer, booked, data):
    response = put(client, consumer, booked["id"], data)
    assert response.status_code == 400
    valid_stu3(response)


@pytest.mark.requirement("CA-13")
def test_two_cancellations_of_one_version_race_and_one_wins(app, consumer, booked, live_server):
    import requests

    results = []
    body = json.dumps(examples.cancelling_body(booked))

    def cancel():
        results.append(requests.put(f"{live_server}/fhir/stu3/Appointment/{booked['id']}", data=body, timeout=30,
                                    headers={**consumer, "Content-Type": FHIR_JSON, "If-Match": 'W/"1"'}).status_code)

    threads = [threading.Thread(target=cancel) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409, 409, 409]
    with app.app_context():
        assert db.session.get(Appointment, int(booked["id"])).version == 2
        assert len(db.session.scalars(select(AppointmentVersion)).all()) == 2


@pytest.mark.requirement("GA-01", "GA-06", "GA-07", "GA-08")
def test_get_an_appointment_has_every_element_as_booked(app, client, consumer, booked):
    assert booked["meta"]["versionId"] == "1" and booked["status"] == "booked"
    for element in ("id", "start", "end", "created", "description", "slot", "participant", "supportingInformation"):
        assert booked.get(element), element
    slot = {r["resourceType"]: r for r in booked["contained"]}["Slot"]
    assert booked["slot"] == [{"reference": f"#{slot['id']}"}]
    slot_id, slot_uuid, schedule_id = slot_row(app)
    assert slot["identifier"] == [{"system": "https://tools.ietf.org/html/rfc4122", "value": slot_uuid}]
    assert (slot["status"], slot["start"], slot["end"], slot["schedule"]) == (
        "busy", SLOT_START, "2030-01-07T09:15:00+00:00", {"reference": f"Schedule/{schedule_id}"})


@pytest.mark.requirement("GA-03")
def test_an_unknown_appointment_or_version_is_404(app, client, consumer, booked):
    for path in ("/Appointment/999999", f"/Appointment/{booked['id']}/_history/9",
                 "/Appointment/99999999999", "/Appointment/abc"):
        response = client.get(f"/fhir/stu3{path}", headers=consumer)
        assert response.status_code == 404, path
        assert valid_stu3(response)["issue"][0]["code"] == "not-found"


@pytest.mark.requirement("GA-05")
def test_query_parameters_on_a_read(app, client, consumer, booked):
    url = f"/fhir/stu3/Appointment/{booked['id']}"
    assert client.get(f"{url}?_format=json&colour=blue", headers=consumer).status_code == 200
    strict = client.get(f"{url}?colour=blue", headers={**consumer, "Prefer": "handling=strict"})
    assert strict.status_code == 400 and valid_stu3(strict)["issue"][0]["expression"] == ["colour"]
    assert client.get(f"{url}?_format=nonsense", headers=consumer).status_code == 400
    assert client.get(f"{url}?_format=xml", headers=consumer).status_code == 406
