"""capabilitystatement.html; the 500 every interaction page asks for; bodies that parse as STU3."""

import json

import pytest

from tests.fhir.conformance.conftest import book_example
from tests.fhir.conftest import valid_stu3


@pytest.mark.requirement("CS-01")
def test_metadata_is_a_capability_statement(client):
    response = client.get("/fhir/stu3/metadata")
    assert response.status_code == 200
    body = valid_stu3(response)
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "3.0.1"


def _listed(client):
    body = client.get("/fhir/stu3/metadata").json
    return {r["type"]: r for r in body["rest"][0]["resource"]}


@pytest.mark.requirement("CS-02")
def test_every_listed_interaction_works_and_no_other_method_does(app, client, consumer, diary_set_up):
    listed = _listed(client)
    created = book_example(client, app, consumer).json
    reads = {"Schedule": diary_set_up["schedule_id"], "Practitioner": diary_set_up["practitioner_id"],
             "PractitionerRole": diary_set_up["schedule_id"], "Location": diary_set_up["location_id"],
             "HealthcareService": diary_set_up["service_id"], "Organization": "RXX01", "Appointment": created["id"]}
    for kind, resource in listed.items():
        codes = {i["code"] for i in resource["interaction"]}
        if "read" in codes:
            assert client.get(f"/fhir/stu3/{kind}/{reads[kind]}", headers=consumer).status_code == 200, kind
        if "search-type" in codes:
            assert client.get(f"/fhir/stu3/{kind}?{resource['searchParam'][0]['name']}="
                              + ("https://fhir.nhs.uk/Id/nhs-number|9434765919" if kind == "Appointment" else
                                 str(diary_set_up["service_id"])), headers=consumer).status_code == 200, kind
        else:
            assert client.get(f"/fhir/stu3/{kind}", headers=consumer).status_code == 404, kind  # no such route
        # A resource without read has no instance URL at all (404); one with read answers other methods 405.
        target, refused = (reads[kind], 405) if "read" in codes else (1, 404)
        if "update" not in codes:
            assert client.put(f"/fhir/stu3/{kind}/{target}", headers=consumer).status_code == refused, kind
        assert client.delete(f"/fhir/stu3/{kind}/{target}", headers=consumer).status_code == refused, kind
    assert set(listed) == set(reads) | {"Slot"}
    assert {i["code"] for i in listed["Appointment"]["interaction"]} == {"create", "read", "vread", "update",
                                                                         "search-type"}
    assert client.get(f"/fhir/stu3/Appointment/{created['id']}/_history/1", headers=consumer).status_code == 200


@pytest.mark.requirement("CS-02")
def test_every_listed_search_parameter_and_include_is_read_and_no_other(app, client, consumer, diary_set_up):
    listed = _listed(client)
    strict = {**consumer, "Prefer": "handling=strict"}
    values = {"service": str(diary_set_up["service_id"]), "start": "ge2030-01-07", "status": "free"}
    for param in listed["Slot"]["searchParam"]:
        response = client.get(f"/fhir/stu3/Slot?{param['name']}={values[param['name']]}", headers=strict)
        assert response.status_code == 200, param
    for include in listed["Slot"]["searchInclude"]:
        response = client.get(f"/fhir/stu3/Slot?_include={include}&service=1", headers=strict)
        assert response.status_code == 200, include
    for param in listed["Appointment"]["searchParam"]:
        value = "1" if param["name"] == "_id" else "https://fhir.nhs.uk/Id/nhs-number|9434765919"
        query = f"{param['name']}={value}" + ("&patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"
                                              if param["name"] == "_id" else "")
        assert client.get(f"/fhir/stu3/Appointment?{query}", headers=strict).status_code == 200, param
    for unlisted in ("_count=5", "end=2030-01-08", "_include=Schedule:actor:Device", "_revinclude=Appointment:slot",
                     "_sort=start"):
        assert client.get(f"/fhir/stu3/Slot?{unlisted}", headers=strict).status_code == 400, unlisted
    global_params = {p["name"] for p in client.get("/fhir/stu3/metadata").json["rest"][0]["searchParam"]}
    assert global_params == {"_format"}
    profiles = {p["reference"].rsplit("/", 1)[1] for p in client.get("/fhir/stu3/metadata").json["profile"]}
    assert profiles == {f"CareConnect-{kind}-1" for kind in (
        "Slot", "Schedule", "Practitioner", "PractitionerRole", "Location", "HealthcareService", "Organization",
        "Appointment", "Patient", "DocumentReference")}


@pytest.fixture
def broken_portal(app, tmp_path):
    """A second portal whose database cannot be opened: every FHIR call is a real server error."""
    from portal import create_app

    broken = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/folder/portal.db",
                         "API_TOKEN_KEY": app.config["API_TOKEN_KEY"], "REDIS_URL": app.config["REDIS_URL"],
                         "TESTING": False})
    return broken.test_client()


@pytest.mark.requirement("SS-23", "BK-12", "CA-12")
def test_a_server_error_is_500_with_an_operation_outcome(broken_portal, consumer):
    calls = [("get", "/fhir/stu3/Slot?service=1", None), ("post", "/fhir/stu3/Appointment", b"{}"),
             ("put", "/fhir/stu3/Appointment/1", b"{}"), ("get", "/fhir/stu3/Appointment/1", None)]
    for method, url, data in calls:
        response = getattr(broken_portal, method)(url, data=data, headers={
            **consumer, "Content-Type": "application/fhir+json", "If-Match": 'W/"1"'})
        assert response.status_code == 500, url
        body = valid_stu3(response)
        assert body["issue"][0]["code"] == "exception" and "Traceback" not in json.dumps(body)
