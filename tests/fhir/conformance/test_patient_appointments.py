"""search_patient_appointments.html."""

from datetime import date, datetime, timedelta

import pytest

from tests.fhir.conformance import examples
from tests.fhir.conformance.conftest import book_example
from tests.fhir.conftest import valid_stu3

NHS = "https://fhir.nhs.uk/Id/nhs-number|9434765919"


def find(client, headers, query, status=200):
    response = client.get(f"/fhir/stu3/Appointment?{query}", headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    return valid_stu3(response)


@pytest.fixture
def two_booked(app, client, consumer, diary_set_up):
    ids = []
    for start, end in (("2030-01-07T09:15:00+00:00", "2030-01-07T09:30:00+00:00"),
                       ("2030-01-07T09:00:00+00:00", "2030-01-07T09:15:00+00:00")):
        response = book_example(client, app, consumer, start=start, end=end, appointment_end=end)
        assert response.status_code == 201
        ids.append(response.json["id"])
    other = book_example(client, app, consumer, start="2030-01-07T10:00:00+00:00", end="2030-01-07T10:15:00+00:00",
                         appointment_end="2030-01-07T10:15:00+00:00", nhs_number="4010232137")
    assert other.status_code == 201
    return ids


@pytest.mark.requirement("SA-01", "SA-02", "SA-03", "SA-09")
@pytest.mark.parametrize("name", ["Appointment.participant.actor:Patient.identifier", "patient.identifier",
                                  "actor:Patient.identifier", "Appointment.participant.actor", "identifier"])
def test_the_pages_query_and_its_fhir_spellings(client, consumer, two_booked, name):
    bundle = find(client, consumer, f"{name}={NHS}&_format=json")
    assert bundle["type"] == "searchset" and bundle["total"] == 2
    assert [e["resource"]["id"] for e in bundle["entry"]] == list(reversed(two_booked))  # soonest first


@pytest.mark.requirement("SA-01", "SA-03")
def test_the_pages_own_query_with_an_unknown_patient_is_an_empty_bundle(client, consumer, two_booked):
    bundle = find(client, consumer, f"{examples.PATIENT_APPOINTMENTS_PARAMETER}={examples.PATIENT_APPOINTMENTS_VALUE}")
    assert bundle["total"] == 0 and bundle.get("entry", []) == []


@pytest.mark.requirement("SA-04")
def test_all_results_in_one_bundle_without_paging(app, client, consumer, diary_set_up):
    first = datetime(2030, 1, 8, 9)
    for n in range(12):
        start, end = first + timedelta(minutes=15 * n), first + timedelta(minutes=15 * (n + 1))
        stamp = "%Y-%m-%dT%H:%M:%S+00:00"
        assert book_example(client, app, consumer, start=start.strftime(stamp), end=end.strftime(stamp),
                            appointment_end=end.strftime(stamp)).status_code == 201
    bundle = find(client, consumer, f"patient.identifier={NHS}&_count=5")
    assert bundle["total"] == 12 and len(bundle["entry"]) == 12
    assert [link["relation"] for link in bundle["link"]] == ["self"]


@pytest.mark.requirement("SA-05")
def test_appointments_in_the_past_are_not_returned(app, client, consumer, two_booked):
    from portal.extensions import db
    from portal.scheduling.models import Appointment

    with app.app_context():
        first = db.session.get(Appointment, int(two_booked[0]))
        first.start, first.end = first.start.replace(year=2020), first.end.replace(year=2020)
        db.session.commit()
    bundle = find(client, consumer, f"patient.identifier={NHS}")
    assert [e["resource"]["id"] for e in bundle["entry"]] == [two_booked[1]]
    assert date.today().year < 2030


@pytest.mark.requirement("SA-06")
def test_no_valid_token_is_403(client, two_booked):
    response = client.get(f"/fhir/stu3/Appointment?patient.identifier={NHS}", headers={"Authorization": "Bearer x"})
    assert response.status_code == 403 and valid_stu3(response)["resourceType"] == "OperationOutcome"


@pytest.mark.requirement("SA-07")
@pytest.mark.parametrize("query", ["patient.identifier=9434765919", "patient.identifier=|x", "_id=abc",
                                   "", "colour=blue", f"patient.identifier={NHS}&_format=yaml"])
def test_invalid_parameters_are_400(client, consumer, two_booked, query):
    bundle = find(client, consumer, query, status=400)
    assert bundle["resourceType"] == "OperationOutcome"


@pytest.mark.requirement("SA-08")
def test_entries_are_version_specific_with_the_patients_identifier(client, consumer, two_booked):
    bundle = find(client, consumer, f"patient.identifier={NHS}")
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == (f"http://localhost/fhir/stu3/Appointment/{resource['id']}/_history/"
                                    f"{resource['meta']['versionId']}")
        for element in ("status", "start", "end", "created"):
            assert resource[element]
        assert resource["participant"][0]["actor"]["identifier"] == {
            "use": "official", "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}


@pytest.mark.requirement("SA-03")
def test_a_client_finds_only_the_appointments_it_booked(client, bearer, two_booked):
    assert find(client, bearer(), f"patient.identifier={NHS}")["total"] == 0
