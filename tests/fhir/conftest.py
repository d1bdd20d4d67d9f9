import pytest
from fhir.resources.STU3 import construct_fhir_element

from tests.conftest import VALID_NHS_NUMBER

FHIR_JSON = "application/fhir+json"


def valid_stu3(response) -> dict:
    """Every body the FHIR API returns must be a valid STU3 resource of the media type we promise."""
    assert response.mimetype == FHIR_JSON, (response.status_code, response.get_data(as_text=True))
    body = response.json
    resource = construct_fhir_element(body["resourceType"], body)
    if body["resourceType"] == "Bundle":
        for entry in body.get("entry", []):
            construct_fhir_element(entry["resource"]["resourceType"], entry["resource"])
    assert resource is not None
    return body


def appointment_body(slot_id: int, start: str, end: str, nhs_number: str = VALID_NHS_NUMBER, **changes) -> dict:
    body = {
        "resourceType": "Appointment",
        "status": "booked",
        "description": "Minor injury",
        "start": start,
        "end": end,
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "contained": [{
            "resourceType": "Patient", "id": "P1",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}],
            "name": [{"family": "Able", "given": ["Amy"]}],
            "birthDate": "1980-05-01",
        }],
        "participant": [{"actor": {"reference": "#P1"}, "status": "accepted"}],
    }
    body.update(changes)
    return body


@pytest.fixture
def bearer(fhir_token):
    def make(scopes=None):
        return {"Authorization": f"Bearer {fhir_token(scopes)}"}

    return make
