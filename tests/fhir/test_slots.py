"""GET /fhir/stu3/Slot and /metadata, every body validated against the STU3 models."""

import time_machine

from portal.scheduling import services
from tests.conftest import DIARY_MONDAY, slot_ids
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
    assert {i["code"] for i in types["Appointment"]["interaction"]} == {"create", "read", "vread", "update",
                                                                        "search-type"}
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
    assert {k: len(v) for k, v in by_type.items()} == {"Slot": 60, "Schedule": 1, "Practitioner": 1}
    slot = by_type["Slot"][0]["resource"]
    assert slot["meta"]["profile"] == ["https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Slot-1"]
    assert slot["status"] == "free" and slot["start"] == "2030-01-07T09:00:00+00:00"
    assert slot["end"] == "2030-01-07T09:15:00+00:00"
    assert slot["schedule"]["reference"] == f"Schedule/{diary_set_up['schedule_id']}"
    schedule = by_type["Schedule"][0]["resource"]
    assert schedule["meta"]["profile"] == ["https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Schedule-1"]
    # At most three actors (the booking pages): the location is the practitioner's role's.
    assert {a["reference"] for a in schedule["actor"]} == {
        f"HealthcareService/{service}", f"PractitionerRole/{diary_set_up['schedule_id']}",
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


def test_malformed_parameters_and_under_strict_handling_unknown_ones_are_400_naming_them(client, bearer,
                                                                                          diary_set_up):
    headers = {**bearer(["slot/*.read"]), "Prefer": "handling=strict"}
    service = diary_set_up["service_id"]
    cases = {
        f"schedule.actor:HealthcareService={service}&colour=blue": "colour",
        f"schedule.actor:HealthcareService={service}&start=yesterday": "start",
        f"schedule.actor:HealthcareService={service}&start=ge2030-13-45T00:00:00Z": "start",
        f"schedule.actor:HealthcareService={service}&status=maybe": "status",
        f"schedule.actor:HealthcareService={service}&_include=Slot:everything": "_include",
        "schedule.actor:HealthcareService=abc": "schedule.actor:HealthcareService",
        f"schedule.actor:HealthcareService={service}&start=ge2030-01-08&start=le2030-01-07": "start",
    }
    for query, named in cases.items():
        response = search(client, headers, query)
        assert response.status_code == 400, query
        body = valid_stu3(response)
        assert any(named in issue.get("expression", []) for issue in body["issue"]), (query, body)


def test_every_bad_parameter_is_named_at_once(client, bearer):
    response = search(client, {**bearer(["slot/*.read"]), "Prefer": "handling=strict"},
                      "colour=blue&size=xl&status=maybe&service=x")
    body = valid_stu3(response)
    named = {e for issue in body["issue"] for e in issue.get("expression", [])}
    assert {"colour", "size", "status", "service"} <= named


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


def test_a_practitioner_can_be_read_with_the_schedule_scope(client, bearer, diary_set_up):
    practitioner = diary_set_up["practitioner_id"]
    response = client.get(f"/fhir/stu3/Practitioner/{practitioner}", headers=bearer(["schedule/*.read"]))
    assert response.status_code == 200 and response.headers["ETag"] == 'W/"1"'
    body = valid_stu3(response)
    assert body["resourceType"] == "Practitioner" and body["id"] == str(practitioner)
    assert body["name"] == [{"family": "Patel", "given": ["Asha"]}]
    assert body["meta"]["profile"] == ["https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Practitioner-1"]
    refused = client.get(f"/fhir/stu3/Practitioner/{practitioner}", headers=bearer(["slot/*.read"]))
    assert refused.status_code == 403 and "schedule/*.read" in valid_stu3(refused)["issue"][0]["diagnostics"]
    assert client.get(f"/fhir/stu3/Practitioner/{practitioner}").status_code == 403
    missing = client.get("/fhir/stu3/Practitioner/999999", headers=bearer(["schedule/*.read"]))
    assert missing.status_code == 404 and valid_stu3(missing)["issue"][0]["code"] == "not-found"
    assert client.get("/fhir/stu3/Practitioner/99999999999", headers=bearer(["schedule/*.read"])).status_code == 404


def test_metadata_lists_every_read_the_server_answers(client):
    body = valid_stu3(client.get("/fhir/stu3/metadata"))
    types = {r["type"]: {i["code"] for i in r["interaction"]} for r in body["rest"][0]["resource"]}
    assert types == {"Slot": {"search-type"}, "Schedule": {"read"}, "Practitioner": {"read"}, "Location": {"read"},
                     "HealthcareService": {"read"}, "PractitionerRole": {"read"}, "Organization": {"read"},
                     "Appointment": {"create", "read", "vread", "update", "search-type"}}
    for kind in ("Schedule", "Practitioner", "PractitionerRole", "Location", "HealthcareService", "Organization"):
        assert client.get(f"/fhir/stu3/{kind}/1").status_code == 403  # exists (needs a token), not 404


def test_gt_and_lt_are_strict_and_ge_le_inclusive(client, bearer, diary_set_up):
    headers = bearer(["slot/*.read"])
    base = f"schedule.actor:HealthcareService={diary_set_up['service_id']}&status=free"

    def starts(query):
        body = valid_stu3(search(client, headers, f"{base}&{query}"))
        return [e["resource"]["start"][11:16] for e in body.get("entry", [])]

    assert starts("start=ge2030-01-07T09:00:00Z&start=le2030-01-07T09:30:00Z") == ["09:00", "09:15", "09:30"]
    assert starts("start=gt2030-01-07T09:00:00Z&start=lt2030-01-07T09:30:00Z") == ["09:15"]
    assert starts("start=gt2030-01-06&start=lt2030-01-08") == starts("start=2030-01-07")


def test_fhir_slot_search_leaves_out_slots_that_have_started(client, bearer, diary_set_up):
    with time_machine.travel(f"{DIARY_MONDAY}T10:05:00Z", tick=True):
        response = client.get(f"/fhir/stu3/Slot?schedule.actor:HealthcareService={diary_set_up['service_id']}"
                              f"&status=free&start=ge{DIARY_MONDAY}&start=le{DIARY_MONDAY}",
                              headers=bearer(["slot/*.read"]))
    body = valid_stu3(response)
    starts = [entry["resource"]["start"] for entry in body["entry"]]
    assert body["total"] == 7 and starts[0] == f"{DIARY_MONDAY}T10:15:00+00:00"  # 10:15 … 11:45
