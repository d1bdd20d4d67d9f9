"""OAuth2 client credentials: tokens for machine clients, and what the FHIR API does without them."""

import time

import jwt
import time_machine
from sqlalchemy import select

from portal.extensions import db
from portal.fhir.models import ApiClient
from tests.fhir.conftest import valid_stu3

SLOT_SEARCH = "/fhir/stu3/Slot?schedule.actor:HealthcareService=1"


def test_a_client_gets_a_one_hour_jwt_with_its_scopes(app, client, api_client):
    client_id, secret = api_client(["slot/*.read", "appointment/*.write"])
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert set(body["scope"].split()) == {"slot/*.read", "appointment/*.write"}
    claims = jwt.decode(body["access_token"], app.config["API_TOKEN_KEY"], algorithms=["HS256"],
                        audience="care-portal-fhir")
    assert claims["sub"] == client_id and claims["exp"] - claims["iat"] == 3600
    assert response.headers["Cache-Control"] == "no-store"


def test_secret_may_also_come_in_the_form(client, api_client):
    client_id, secret = api_client()
    response = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                 "client_secret": secret, "scope": "slot/*.read"})
    assert response.status_code == 200 and response.json["scope"] == "slot/*.read"


def test_wrong_secret_unknown_client_and_wrong_grant_are_refused(client, api_client):
    client_id, secret = api_client()
    assert client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, "wrong")).status_code == 401
    assert client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       auth=("nobody", secret)).status_code == 401
    wrong_grant = client.post("/oauth/token", data={"grant_type": "password"}, auth=(client_id, secret))
    assert wrong_grant.status_code == 400 and wrong_grant.json["error"] == "unsupported_grant_type"
    assert client.post("/oauth/token", data={}).status_code == 400
    assert client.get("/oauth/token").status_code == 405


def test_a_client_cannot_ask_for_a_scope_it_was_not_given(client, api_client):
    client_id, secret = api_client(["slot/*.read"])
    response = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                 "scope": "appointment/*.write"}, auth=(client_id, secret))
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_secrets_are_stored_hashed(app, api_client):
    client_id, secret = api_client()
    with app.app_context():
        stored = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
        assert secret not in stored.secret_hash and stored.secret_hash.startswith("$argon2")


def test_no_token_is_403_operation_outcome_as_the_booking_pages_ask(client):
    response = client.get(SLOT_SEARCH)
    assert response.status_code == 403
    body = valid_stu3(response)
    assert body["issue"][0]["code"] == "login"


def test_expired_forged_and_garbage_tokens_are_403(app, client, api_client):
    client_id, _ = api_client()
    now = int(time.time())
    claims = {"iss": "care-portal", "aud": "care-portal-fhir", "sub": client_id, "scope": "slot/*.read",
              "iat": now - 7200, "exp": now - 3600}
    expired = jwt.encode(claims, app.config["API_TOKEN_KEY"], algorithm="HS256")
    forged = jwt.encode({**claims, "exp": now + 3600}, "not the key of this portal, but long enough", algorithm="HS256")
    for header in (f"Bearer {expired}", f"Bearer {forged}", "Bearer garbage", "Basic abc", "Bearer "):
        response = client.get(SLOT_SEARCH, headers={"Authorization": header})
        assert response.status_code == 403, header
        assert valid_stu3(response)["issue"][0]["code"] == "login"
    assert "expired" in client.get(SLOT_SEARCH, headers={"Authorization": f"Bearer {expired}"}).json[
        "issue"][0]["diagnostics"]


def test_a_token_that_worked_stops_at_its_expiry(app, client, api_client):
    # Verified tokens are remembered (security/verified_tokens.py); the expiry is checked on every use.
    client_id, _ = api_client(["slot/*.read"])
    now = int(time.time())
    claims = {"iss": "care-portal", "aud": "care-portal-fhir", "sub": client_id, "scope": "slot/*.read",
              "iat": now, "exp": now + 60}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, app.config['API_TOKEN_KEY'], algorithm='HS256')}"}
    assert client.get(SLOT_SEARCH, headers=headers).status_code == 200
    with time_machine.travel(now + 61, tick=False):
        response = client.get(SLOT_SEARCH, headers=headers)
    assert response.status_code == 403 and "expired" in response.json["issue"][0]["diagnostics"]


def test_a_deactivated_clients_token_stops_working(app, client, bearer):
    headers = bearer(["slot/*.read"])
    assert client.get(SLOT_SEARCH, headers=headers).status_code == 200
    with app.app_context():
        db.session.scalar(select(ApiClient)).active = False
        db.session.commit()
    assert client.get(SLOT_SEARCH, headers=headers).status_code == 403


def test_missing_scope_is_403_operation_outcome(client, bearer):
    response = client.get(SLOT_SEARCH, headers=bearer(["appointment/*.write"]))
    assert response.status_code == 403
    assert valid_stu3(response)["issue"][0]["code"] == "forbidden"
    booking = client.post("/fhir/stu3/Appointment", json={}, headers=bearer(["slot/*.read"]))
    assert booking.status_code == 403


def test_create_api_client_command_prints_the_secret_once(app):
    result = app.test_cli_runner().invoke(args=["create-api-client", "--name", "111 online",
                                                "--scope", "slot/*.read", "--client-id", "nhs111"])
    assert result.exit_code == 0, result.output
    assert "client_id: nhs111" in result.output and "client_secret: " in result.output
    again = app.test_cli_runner().invoke(args=["create-api-client", "--name", "x", "--client-id", "nhs111"])
    assert again.exit_code != 0 and "taken" in again.output
    bad = app.test_cli_runner().invoke(args=["create-api-client", "--name", "x", "--scope", "patient/*.read"])
    assert bad.exit_code != 0
