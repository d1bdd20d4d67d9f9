"""GET /fhir/stu3/Slot and /metadata, every body validated against the STU3 models."""

from portal.scheduling import services
from tests.conftest import slot_ids
from tests.fhir.conftest import valid_stu3

INCLUDES = ("&_include=Slot:schedule&_include:recurse=Schedule:actor:Practitioner"
            "&_include:recurse=Schedule:actor:Location")


def search(client, headers, query):
    return client.get(f"/fhir/stu3/Slot?{query}", headers=headers)


def test_metadata_is_a_capability_statement_without_a_token(client):
    response = client.get("/fhir/stu3/metadata")
    assert response.status_code == 200
    body = valid_stu3(response)
    assert body["fhirVersion"] == "3.0.1"
    types = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {i["code"] for i in types["Appointment"]["interaction"]} == {"create", "read", "update"}
    assert "Slot:schedule" in types["Slot"]["searchInclude"]


def test_search_returns_the_free_slots_of_a_week_with_schedule_and_actors(client, bearer, diary_set_up):
    service = diary_set_up["service_id"]
    response = search(client, bearer(["slot/*.read"]),
                      f"schedule.actor:HealthcareService={service}&start=ge2030-01-07T00:00:00Z"
                      f"&start=le2030-01-13T23:59:59Z&status=free{INCLUDES}")
    assert response.status_code == 200
    body = valid_stu3(response)
    assert body["type"] == "searchset" and body["total"] == 60
    by_type = {}
    for entry in body["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry)
        assert entry["fullUrl"].endswith(f"/fhir/stu3/{entry['resource']['resourceType']}/{entry['resource']['id']}")
        assert entry["resource"]["meta"]["versionId"] and entry["resource"]["meta"]["profile"]
    assert {k: len(v) for k, v in by_type.items()} == {"Slot": 60, "Schedule": 1, "Practitioner": 1, "Location": 1}
    slot = by_type["Slot"][0]["resource"]
    assert slot["meta"]["profile"] == ["https://fhir.nhs.uk/STU3/StructureDefinition/NHS-Slot-1"]
    assert slot["status"] == "free" and slot["start"] == "2030-01-07T09:00:00+00:00"
    assert slot["end"] == "2030-01-07T09:15:00+00:00"
    assert slot["schedule"]["reference"] == f"Schedule/{diary_set_up['schedule_id']}"
    schedule = by_type["Schedule"][0]["resource"]
    assert schedule["meta"]["profile"] == ["https://fhir.nhs.uk/STU3/StructureDefinition/NHS-Schedule-1"]
    assert {a["reference"] for a in schedule["actor"]} == {
        f"HealthcareService/{service}", f"Location/{diary_set_up['location_id']}",
        f"Practitioner/{diary_set_up['practitioner_id']}"}
    assert by_type["Practitioner"][0]["resource"]["meta"]["profile"] == [
        "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Practitioner-1"]
    assert by_type["Practitioner"][0]["search"]["mode"] == "include"


def test_search_without_includes_returns_only_slots_and_skips_taken_ones(app, client, bearer, diary_set_up):
    with app.app_context():
        services.block_slot(slot_ids(app)[0], actor=("staff", "1"))
    response = search(client, bearer(["slot/*.read"]),
                      f"schedule.actor:HealthcareService={diary_set_up['service_id']}&status=free"
                      "&start=ge2030-01-07&start=le2030-01-07")
    body = valid_stu3(response)
    assert body["total"] == 11 and {e["resource"]["resourceType"] for e in body["entry"]} == {"Slot"}


def test_search_of_a_service_without_slots_is_an_empty_bundle(client, bearer, diary_set_up):
    body = valid_stu3(search(client, bearer(["slot/*.read"]), "schedule.actor:HealthcareService=424242"
                             + INCLUDES))
    assert body["total"] == 0 and body.get("entry", []) == []


def test_unknown_and_malformed_parameters_are_400_naming_them(client, bearer, diary_set_up):
    headers = bearer(["slot/*.read"])
    service = diary_set_up["service_id"]
    cases = {
        f"schedule.actor:HealthcareService={service}&colour=blue": "colour",
        f"schedule.actor:HealthcareService={service}&start=yesterday": "start",
        f"schedule.actor:HealthcareService={service}&start=ge2030-13-45T00:00:00Z": "start",
        f"schedule.actor:HealthcareService={service}&status=maybe": "status",
        f"schedule.actor:HealthcareService={service}&_include=Slot:everything": "_include",
        f"schedule.actor:HealthcareService={service}&_include:recurse=Schedule:actor:Practitioner":
            "_include:recurse",
        "schedule.actor:HealthcareService=abc": "schedule.actor:HealthcareService",
        "status=free": "schedule.actor:HealthcareService",
        f"schedule.actor:HealthcareService={service}&start=ge2030-01-08&start=le2030-01-07": "start",
    }
    for query, named in cases.items():
        response = search(client, headers, query)
        assert response.status_code == 400, query
        body = valid_stu3(response)
        assert any(named in issue.get("expression", []) for issue in body["issue"]), (query, body)


def test_every_bad_parameter_is_named_at_once(client, bearer):
    response = search(client, bearer(["slot/*.read"]), "colour=blue&size=xl&status=maybe")
    body = valid_stu3(response)
    named = {e for issue in body["issue"] for e in issue.get("expression", [])}
    assert {"colour", "size", "status", "schedule.actor:HealthcareService"} <= named


def test_unknown_fhir_routes_and_methods_answer_with_operation_outcomes(client, bearer):
    missing = client.get("/fhir/stu3/Patient", headers=bearer())
    assert missing.status_code == 404 and valid_stu3(missing)["issue"][0]["code"] == "not-found"
    wrong_method = client.delete("/fhir/stu3/Slot")
    assert wrong_method.status_code == 405
    valid_stu3(wrong_method)


def test_ssp_proxy_headers_are_accepted_and_logged(client, bearer, diary_set_up, caplog):
    headers = {**bearer(["slot/*.read"]), "Ssp-TraceID": "trace-123", "Ssp-From": "200000000115",
               "Ssp-To": "200000000116", "Ssp-InteractionID": "urn:nhs:names:services:appointments:read:slot"}
    with caplog.at_level("INFO", logger="portal.fhir.views"):
        response = search(client, headers, f"schedule.actor:HealthcareService={diary_set_up['service_id']}")
    assert response.status_code == 200
    assert "Ssp-TraceID=trace-123" in caplog.text and "Ssp-InteractionID=urn:nhs" in caplog.text


def test_a_search_matching_too_many_slots_asks_for_a_narrower_window(client, bearer, diary_set_up, monkeypatch):
    from portal.fhir import services as fhir_services

    monkeypatch.setattr(fhir_services, "SEARCH_LIMIT", 10)
    response = search(client, bearer(["slot/*.read"]), f"schedule.actor:HealthcareService={diary_set_up['service_id']}")
    assert response.status_code == 400
    assert valid_stu3(response)["issue"][0]["code"] == "too-costly"


def test_schedule_location_and_service_can_be_read_with_their_scopes(client, bearer, diary_set_up):
    headers = bearer(["schedule/*.read", "location/*.read", "healthcareservice/*.read"])
    for kind, key in (("Schedule", "schedule_id"), ("Location", "location_id"),
                      ("HealthcareService", "service_id")):
        response = client.get(f"/fhir/stu3/{kind}/{diary_set_up[key]}", headers=headers)
        assert response.status_code == 200, kind
        assert valid_stu3(response)["resourceType"] == kind
        missing = client.get(f"/fhir/stu3/{kind}/999999", headers=headers)
        assert missing.status_code == 404
        valid_stu3(missing)
    assert client.get(f"/fhir/stu3/Schedule/{diary_set_up['schedule_id']}",
                      headers=bearer(["slot/*.read"])).status_code == 403
    assert client.get("/fhir/stu3/Schedule/abc", headers=headers).status_code == 404
