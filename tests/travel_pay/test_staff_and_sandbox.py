"""Staff access to the travel claims page, and the sandbox stand-ins refusing bad requests."""

import requests


def test_only_secretaries_and_admins_see_travel_claims(staff_client, client):
    assert staff_client("doctor").get("/travel-claims").status_code == 403
    assert staff_client("admin").get("/travel-claims").status_code == 200
    assert client.get("/travel-claims").status_code == 302


def test_resubmit_needs_csrf_and_an_existing_claim(staff_client):
    secretary = staff_client("secretary")
    assert secretary.post("/travel-claims/1/resubmit").status_code == 400
    assert secretary.post("/travel-claims/424242/resubmit", data={"csrf_token": secretary.csrf}).status_code == 404
    assert secretary.post("/travel-claims/99999999999/resubmit", data={"csrf_token": secretary.csrf}).status_code == 404


def test_the_token_service_refuses_a_wrong_secret_and_other_grants(travel_sandbox):
    url = f"{travel_sandbox.url}/travel/token"
    assert requests.post(url, data={"grant_type": "client_credentials"}, auth=("care-portal", "wrong"),
                         timeout=5).status_code == 401
    assert requests.post(url, data={"grant_type": "password"}, timeout=5).status_code == 400


def test_the_claims_api_wants_a_token_an_idempotency_key_and_a_claim(app, travel_sandbox):
    from portal.travel_pay.services import access_token

    url = f"{travel_sandbox.url}/travel/claims"
    assert requests.post(url, json={}, timeout=5).status_code == 401
    with app.app_context():
        headers = {"Authorization": f"Bearer {access_token()}"}
    assert requests.post(url, json={"patientId": "1"}, headers=headers, timeout=5).status_code == 400
    bad = requests.post(url, data="not json", headers={**headers, "Idempotency-Key": "k1"}, timeout=5)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_claim"


def test_the_sandbox_counts_a_second_key_for_the_same_claim_as_a_duplicate(app, travel_sandbox):
    from portal.travel_pay.services import access_token

    url = f"{travel_sandbox.url}/travel/claims"
    with app.app_context():
        headers = {"Authorization": f"Bearer {access_token()}"}
    claim = {"patientId": "7", "appointmentDateTime": "2030-01-07T09:00:00Z"}
    assert requests.post(url, json=claim, headers={**headers, "Idempotency-Key": "a"}, timeout=5).status_code == 201
    assert requests.post(url, json=claim, headers={**headers, "Idempotency-Key": "a"}, timeout=5).status_code == 200
    assert requests.post(url, json=claim, headers={**headers, "Idempotency-Key": "b"}, timeout=5).status_code == 409
    counters = travel_sandbox.counters()
    assert (counters["filings"], counters["replays"], counters["duplicates"]) == (1, 1, 1)


def test_the_sandbox_index_page_switches_the_claims_api(travel_sandbox):
    page = requests.get(travel_sandbox.url, timeout=5).text
    assert 'id="travel-mode"' in page
    requests.post(f"{travel_sandbox.url}/travel/mode", data={"mode": "fail", "failures": "2"}, timeout=5)
    assert travel_sandbox.counters()["mode"]["failures_left"] == 2
    assert requests.post(f"{travel_sandbox.url}/travel/mode", json={"mode": "explode"}, timeout=5).status_code == 422
