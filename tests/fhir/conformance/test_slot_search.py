"""search_slots.html and the resource pages it returns (slot, schedule, healthcare_service, bundle)."""

from datetime import date, time
from urllib.parse import parse_qsl, urlsplit

import pytest

from portal.scheduling import services as scheduling
from tests.fhir.conformance import examples
from tests.fhir.conformance.conftest import SLOT_START, book_example, slot_row
from tests.fhir.conftest import valid_stu3

WINDOW = ("2030-01-07T09:00:00+00:00", "2030-01-07T09:30:00+00:00")
ALL_INCLUDES = ("Slot:schedule", "Schedule:actor:Practitioner", "Schedule:actor:PractitionerRole",
                "Schedule:actor:HealthcareService", "HealthcareService:Organization", "HealthcareService:Location")


def search(client, headers, query):
    response = client.get(f"/fhir/stu3/Slot?{query}", headers=headers)
    assert response.status_code == 200, (query, response.get_data(as_text=True))
    return valid_stu3(response)


def kinds(bundle) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for entry in bundle.get("entry", []):
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


def starts(bundle) -> list[str]:
    return [r["start"][11:16] for r in kinds(bundle).get("Slot", [])]


def includes(form: str, values=ALL_INCLUDES) -> str:
    return "&".join(f"{'_include' if v == 'Slot:schedule' else form}={v}" for v in values)


@pytest.mark.requirement("SS-15", "SS-16", "SS-14", "SS-06", "SS-07", "SS-08", "SS-09", "SS-11")
def test_the_pages_full_query_as_printed_is_answered(client, consumer, diary_set_up):
    bundle = search(client, consumer, examples.slot_query(diary_set_up["service_id"], *WINDOW))
    found = kinds(bundle)
    assert starts(bundle) == ["09:00", "09:15", "09:30"]  # ge..le, the '+00:00' arriving as ' 00:00'
    assert {k: len(v) for k, v in found.items()} == {"Slot": 3, "Schedule": 1, "Practitioner": 1,
                                                     "PractitionerRole": 1, "HealthcareService": 1, "Location": 1}


@pytest.mark.requirement("SS-01")
@pytest.mark.parametrize("name", ["schedule.actor:healthcareservice", "schedule.actor:HealthcareService", "service"])
def test_the_service_parameter_in_every_spelling(client, consumer, diary_set_up, second_schedule, app, name):
    from portal.scheduling import services

    with app.app_context():
        other = services.set_up_schedule(name="Elsewhere", service_name="Other service", organisation_code="RYY01")
        services.add_weekly_template(other.id, weekday=0, start_time=time(9),
                                     end_time=time(10), slot_minutes=30)
        services.generate_slots(other.id, date(2030, 1, 7), date(2030, 1, 7))
    service = diary_set_up["service_id"]
    for value in (str(service), f"HealthcareService/{service}"):
        bundle = search(client, consumer, f"{name}={value}&start=ge2030-01-07&start=le2030-01-07")
        assert bundle["total"] == 12 + 2  # our two schedules, not the other service's
        assert {s["schedule"]["reference"] for s in kinds(bundle)["Slot"]} == {
            f"Schedule/{diary_set_up['schedule_id']}", f"Schedule/{second_schedule['schedule_id']}"}


@pytest.mark.requirement("SS-02")
def test_status_for_every_status_and_several_at_once(app, client, consumer, diary_set_up):
    first = slot_row(app, SLOT_START)[0]
    with app.app_context():
        scheduling.block_slot(first, actor=("staff", "1"))
    base = f"service={diary_set_up['service_id']}&start=ge2030-01-07T09:00:00Z&start=le2030-01-07T09:30:00Z"
    assert book_example(client, app, consumer, start="2030-01-07T09:15:00+00:00", end="2030-01-07T09:30:00+00:00",
                        appointment_end="2030-01-07T09:30:00+00:00").status_code == 201
    assert starts(search(client, consumer, f"{base}&status=free")) == ["09:30"]
    assert starts(search(client, consumer, f"{base}&status=busy")) == ["09:15"]
    assert starts(search(client, consumer, f"{base}&status=busy-unavailable")) == ["09:00"]
    assert starts(search(client, consumer, f"{base}&status=free,busy")) == ["09:15", "09:30"]
    assert starts(search(client, consumer, base)) == ["09:00", "09:15", "09:30"]  # left out: every status


@pytest.mark.requirement("SS-03")
@pytest.mark.parametrize("query, expected", [
    ("start=ge2030-01-07T09:15:00Z&start=le2030-01-07T09:45:00Z", ["09:15", "09:30", "09:45"]),
    ("start=gt2030-01-07T09:15:00Z&start=lt2030-01-07T09:45:00Z", ["09:30"]),
    ("start=sa2030-01-07T09:15:00Z&start=eb2030-01-07T09:45:00Z", ["09:30"]),
    ("start=eq2030-01-07T09:15:00Z", ["09:15"]),
    ("start=2030-01-07T09:15:00Z", ["09:15"]),
    ("start=ge2030-01-07T10:15:00%2B01:00&start=le2030-01-07T10:45:00%2B01:00", ["09:15", "09:30", "09:45"]),
    ("start=ge2030-01-07T04:15:00-05:00&start=lt2030-01-07T04:45:00-05:00", ["09:15", "09:30"]),
    ("start=ge2030-01-07T10:15:00+01:00&start=le2030-01-07T10:30:00+01:00", ["09:15", "09:30"]),  # '+' as a space
    ("start=ge2030-01-07T09:15Z&start=le2030-01-07T09:30Z", ["09:15", "09:30"]),  # minute precision
    ("start=ge2030-01-07T09:00:00Z&start=le2030-01-07T09:45:00Z&start=ne2030-01-07T09:30:00Z",
     ["09:00", "09:15", "09:45"]),
    ("start=ge2030-01-07T09:00:00Z&start=ge2030-01-07T09:30:00Z&start=le2030-01-07T09:45:00Z", ["09:30", "09:45"]),
    ("start=gt2030-01-06&start=lt2030-01-08&start=le2030-01-07T09:15:00Z", ["09:00", "09:15"]),
])
def test_start_twice_with_every_prefix_and_offset(client, consumer, diary_set_up, query, expected):
    bundle = search(client, consumer, f"service={diary_set_up['service_id']}&status=free&{query}")
    assert starts(bundle) == expected


@pytest.mark.requirement("SS-03")
def test_start_ap_is_approximately(client, consumer, diary_set_up):
    bundle = search(client, consumer, f"service={diary_set_up['service_id']}&start=ap2030-01-07")
    assert "09:00" in starts(bundle) and bundle["total"] >= 12


@pytest.mark.requirement("SS-04")
@pytest.mark.parametrize("query, total", [
    ("", 60 + 2), ("start=ge2030-01-07&start=le2030-01-07", 12 + 2), ("status=free", 60 + 2),
    ("service={service}", 60 + 2), ("_include=Slot:schedule", 60 + 2),
])
def test_every_parameter_may_be_left_out(client, consumer, diary_set_up, second_schedule, query, total):
    bundle = search(client, consumer, query.format(service=diary_set_up["service_id"]))
    assert bundle["total"] == total


@pytest.mark.requirement("SS-05", "SS-22", "SS-25")
def test_unknown_parameters_are_ignored_and_left_out_of_the_self_link_unless_strict(client, consumer, diary_set_up):
    query = f"service={diary_set_up['service_id']}&start=2030-01-07&colour=blue&_count=5&_include=Slot:everything"
    bundle = search(client, consumer, query)
    assert bundle["total"] == 12
    link = bundle["link"][0]
    assert link["relation"] == "self"
    assert parse_qsl(urlsplit(link["url"]).query) == [("service", str(diary_set_up["service_id"])),
                                                     ("start", "2030-01-07")]
    strict = client.get(f"/fhir/stu3/Slot?{query}", headers={**consumer, "Prefer": "handling=strict"})
    assert strict.status_code == 400
    named = {e for issue in valid_stu3(strict)["issue"] for e in issue["expression"]}
    assert named == {"colour", "_count", "_include"}
    lenient = client.get(f"/fhir/stu3/Slot?{query}", headers={**consumer, "Prefer": "handling=lenient"})
    assert lenient.status_code == 200


@pytest.mark.requirement("SS-22")
@pytest.mark.parametrize("query, named", [
    ("start=yesterday", "start"), ("start=ge2030-13-45T00:00:00Z", "start"), ("start=ge99999-01-01", "start"),
    ("start=ge2030-01-07T09:00:00+99:00", "start"), ("status=maybe", "status"), ("service=abc", "service"),
    ("service=99999999999", "service"), ("start=ge2030-01-08&start=le2030-01-07", "start"),
    ("_format=yaml", "_format"),
])
def test_invalid_values_of_known_parameters_are_400_naming_them(client, consumer, diary_set_up, query, named):
    response = client.get(f"/fhir/stu3/Slot?{query}", headers=consumer)
    assert response.status_code == 400
    assert any(named in issue.get("expression", []) for issue in valid_stu3(response)["issue"])


@pytest.mark.requirement("SS-06", "SS-07", "SS-08", "SS-09", "SS-10", "SS-11")
@pytest.mark.parametrize("form", ["_include", "_include:iterate", "_include:recurse"])
def test_all_six_includes_in_every_form(client, consumer, diary_set_up, form):
    bundle = search(client, consumer, f"service={diary_set_up['service_id']}&start=2030-01-07&" + includes(form))
    found = kinds(bundle)
    assert {k: len(v) for k, v in found.items()} == {
        "Slot": 12, "Schedule": 1, "Practitioner": 1, "PractitionerRole": 1, "HealthcareService": 1,
        "Organization": 1, "Location": 1}
    service, = found["HealthcareService"]
    assert service["providedBy"]["reference"] == "Organization/RXX01"
    assert service["location"] == [{"reference": f"Location/{diary_set_up['location_id']}"}]
    assert found["Organization"][0]["identifier"] == [{"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                                                       "value": "RXX01"}]
    role, = found["PractitionerRole"]
    assert role["practitioner"]["reference"] == f"Practitioner/{diary_set_up['practitioner_id']}"
    assert role["location"] == [{"reference": f"Location/{diary_set_up['location_id']}"}]
    assert all(e["search"]["mode"] == "include" for e in bundle["entry"] if e["resource"]["resourceType"] != "Slot")


@pytest.mark.requirement("SS-10", "SS-11")
@pytest.mark.parametrize("spelling", ["HealthcareService.providedBy", "HealthcareService:providedBy",
                                      "HealthcareService:Organization", "HealthcareService.location",
                                      "HealthcareService:Location", "healthcareservice:location"])
def test_the_service_includes_in_each_spelling_the_pages_use(client, consumer, diary_set_up, spelling):
    query = (f"service={diary_set_up['service_id']}&start=2030-01-07&_include=Slot:schedule"
             f"&_include:iterate=Schedule:actor:HealthcareService&_include:iterate={spelling}")
    found = kinds(search(client, consumer, query))
    wanted = "Organization" if "location" not in spelling.lower() else "Location"
    assert len(found.get(wanted, [])) == 1


@pytest.mark.requirement("SS-12")
def test_an_include_we_do_not_support_returns_what_we_do_without_an_error(client, consumer, diary_set_up):
    query = (f"service={diary_set_up['service_id']}&start=2030-01-07&_include=Slot:schedule"
             "&_include:iterate=Schedule:actor:Device&_include:iterate=Location:partof")
    found = kinds(search(client, consumer, query))
    assert set(found) == {"Slot", "Schedule"}


@pytest.mark.requirement("SS-13")
def test_includes_of_data_not_held_still_return_bookable_slots(app, client, consumer, diary_set_up, second_schedule):
    query = (f"service={diary_set_up['service_id']}&start=2030-01-07T09:00:00Z&start=le2030-01-07T09:00:00Z&"
             + includes("_include:iterate"))
    bundle = search(client, consumer, query)
    found = kinds(bundle)
    walk_in = [s for s in found["Schedule"] if s["id"] == str(second_schedule["schedule_id"])][0]
    assert {a["reference"].split("/")[0] for a in walk_in["actor"]} == {"HealthcareService", "Location"}
    # The service is at two places now, so it names no one location; the walk-in slot is still there and bookable.
    assert "location" not in found["HealthcareService"][0] and "Location" not in found
    response = book_example(client, app, consumer, start="2030-01-07T09:00:00+00:00",
                            end="2030-01-07T09:30:00+00:00", appointment_end="2030-01-07T09:30:00+00:00",
                            schedule_id=second_schedule["schedule_id"])
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.requirement("SS-14")
@pytest.mark.parametrize("fmt", ["json", "application/fhir%2Bjson", "application/json"])
def test_format_json_is_honoured(client, consumer, diary_set_up, fmt):
    bundle = search(client, consumer, f"service={diary_set_up['service_id']}&_format={fmt}")
    assert bundle["resourceType"] == "Bundle"


@pytest.mark.requirement("SS-14")
def test_format_xml_is_not_offered_406(client, consumer, diary_set_up):
    response = client.get(f"/fhir/stu3/Slot?service={diary_set_up['service_id']}&_format=xml", headers=consumer)
    assert response.status_code == 406
    assert valid_stu3(response)["issue"][0]["expression"] == ["_format"]


@pytest.mark.requirement("SS-17", "SS-18")
def test_only_matching_slots_and_their_related_resources(app, client, consumer, diary_set_up, second_schedule):
    from portal.scheduling import services

    with app.app_context():
        other = services.set_up_schedule(name="Other", service_name="Other service", organisation_code="RYY01",
                                         location_name="Far away", practitioner_given="Bo", practitioner_family="Lee")
        services.add_weekly_template(other.id, weekday=0, start_time=time(9),
                                     end_time=time(10), slot_minutes=30)
        services.generate_slots(other.id, date(2030, 1, 7), date(2030, 1, 7))
    query = f"service={diary_set_up['service_id']}&start=2030-01-07T10:00:00Z&" + includes("_include:iterate")
    bundle = search(client, consumer, query)
    found = kinds(bundle)
    assert starts(bundle) == ["10:00"]
    # Only the schedule of that slot, not the walk-in one (no slot at 10:00), nor the other service's.
    assert [s["id"] for s in found["Schedule"]] == [str(diary_set_up["schedule_id"])]
    assert [p["id"] for p in found["Practitioner"]] == [str(diary_set_up["practitioner_id"])]
    assert [o["id"] for o in found["Organization"]] == ["RXX01"]


@pytest.mark.requirement("SS-19")
def test_no_slots_no_other_resources(client, consumer, diary_set_up):
    bundle = search(client, consumer, f"service={diary_set_up['service_id']}&start=2031-01-01&"
                    + includes("_include:iterate"))
    assert bundle["total"] == 0 and bundle.get("entry", []) == []


@pytest.mark.requirement("SS-20")
def test_related_resources_are_never_duplicated(client, consumer, diary_set_up, second_schedule):
    # 60 slots share one schedule; Location is reached by two includes (actor and service location).
    query = (f"service={diary_set_up['service_id']}&start=ge2030-01-08&"
             + includes("_include:iterate") + "&_include:recurse=Schedule:actor:Location&_include=Slot:schedule")
    bundle = search(client, consumer, query)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    assert len(kinds(bundle)["Schedule"]) == 1


@pytest.mark.requirement("SS-25")
def test_the_bundle_has_an_id_total_self_link_and_full_urls(client, consumer, diary_set_up):
    bundle = search(client, consumer, examples.slot_query(diary_set_up["service_id"], *WINDOW))
    assert bundle["id"] and bundle["type"] == "searchset" and bundle["total"] == 3
    link = bundle["link"][0]["url"]
    assert link.startswith("http://localhost/fhir/stu3/Slot?")
    assert [name for name, _ in parse_qsl(urlsplit(link).query)] == [name for name, _ in examples.SLOT_QUERY]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"http://localhost/fhir/stu3/{resource['resourceType']}/{resource['id']}"


@pytest.mark.requirement("SL-01", "SL-02")
def test_slots_carry_their_uuid_and_the_key_elements(app, client, consumer, diary_set_up):
    slot_id, slot_uuid, schedule_id = slot_row(app)
    bundle = search(client, consumer, f"service={diary_set_up['service_id']}&start={SLOT_START[:19]}Z")
    slot, = kinds(bundle)["Slot"]
    assert slot["identifier"] == [{"system": "https://tools.ietf.org/html/rfc4122", "value": slot_uuid}]
    assert slot["meta"]["profile"] == ["https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Slot-1"]
    assert (slot["id"], slot["status"], slot["start"], slot["end"], slot["schedule"]) == (
        str(slot_id), "free", SLOT_START, "2030-01-07T09:15:00+00:00", {"reference": f"Schedule/{schedule_id}"})


@pytest.mark.requirement("SL-01")
def test_every_slot_has_its_own_uuid(app, client, consumer, diary_set_up):
    bundle = search(client, consumer, f"service={diary_set_up['service_id']}")
    values = [s["identifier"][0]["value"] for s in kinds(bundle)["Slot"]]
    assert len(values) == 60 and len(set(values)) == 60
    import uuid

    assert all(uuid.UUID(v).version == 4 for v in values)


@pytest.mark.requirement("SC-01", "SC-02")
def test_schedules_have_one_to_three_actors_with_a_service_or_location(client, consumer, diary_set_up, second_schedule):
    bundle = search(client, consumer, f"service={diary_set_up['service_id']}&start=2030-01-07&_include=Slot:schedule")
    schedules = kinds(bundle)["Schedule"]
    assert len(schedules) == 2
    for schedule in schedules:
        kinds_of_actor = [a["reference"].split("/")[0] for a in schedule["actor"]]
        assert 1 <= len(kinds_of_actor) <= 3 and schedule["id"]
        assert "HealthcareService" in kinds_of_actor or "Location" in kinds_of_actor


@pytest.mark.requirement("HS-01", "RS-01")
def test_service_organisation_role_location_and_practitioner_can_be_read(client, consumer, diary_set_up):
    service = valid_stu3(client.get(f"/fhir/stu3/HealthcareService/{diary_set_up['service_id']}", headers=consumer))
    assert len(service["identifier"]) == 1 and service["identifier"][0]["value"] == str(diary_set_up["service_id"])
    assert service["providedBy"]["reference"] == "Organization/RXX01"
    assert service["location"] == [{"reference": f"Location/{diary_set_up['location_id']}"}]
    organisation = valid_stu3(client.get("/fhir/stu3/Organization/RXX01", headers=consumer))
    assert organisation["meta"]["profile"] == [
        "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Organization-1"]
    role = valid_stu3(client.get(f"/fhir/stu3/PractitionerRole/{diary_set_up['schedule_id']}", headers=consumer))
    assert role["organization"]["reference"] == "Organization/RXX01"
    assert role["healthcareService"] == [{"reference": f"HealthcareService/{diary_set_up['service_id']}"}]
    for path in ("Organization/NOPE1", "PractitionerRole/999999", "Organization/R-1"):
        missing = client.get(f"/fhir/stu3/{path}", headers=consumer)
        assert missing.status_code == 404, path
        valid_stu3(missing)
    location = valid_stu3(client.get(f"/fhir/stu3/Location/{diary_set_up['location_id']}", headers=consumer))
    assert location["meta"]["profile"] == ["https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Location-1"]


@pytest.mark.requirement("SS-21")
@pytest.mark.parametrize("authorization", [None, "Bearer garbage", "Basic abc", "Bearer "])
def test_no_valid_token_is_403_with_an_operation_outcome(client, diary_set_up, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get(f"/fhir/stu3/Slot?service={diary_set_up['service_id']}", headers=headers)
    assert response.status_code == 403
    assert valid_stu3(response)["resourceType"] == "OperationOutcome"
