"""Helpers for the partner's way to a visit: the handoff from a patient to the visit form, and a
visit form's answers. Partner fixtures (`partners`, `partner_client`) come from tests/partners/fixtures.py."""

from tests.conftest import DIARY_MONDAY


def handoff(client, patient_id):
    response = client.post(f"/partner/patients/{patient_id}/schedule", data={"csrf_token": client.csrf})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/schedule/")
    return location


def visit_answers(service_id, **changes):
    visit = {"reason": "Leg ulcer needs dressing", "service_id": service_id, "address": "1 High Street",
             "available_from": DIARY_MONDAY, "callback_phone": "07700 900456"}
    visit.update(changes)
    return visit


def start_visit(client, patient_id):
    token_url = handoff(client, patient_id)
    response = client.get(token_url)
    assert response.status_code == 302 and response.headers["Location"] == "/schedule"
    return token_url
