"""A NUL character (U+0000) anywhere a request's own parsing hands text to a view is a clear 400, never a
500: PostgreSQL cannot store or compare one, so on PostgreSQL each of these was a database error. Found
by bench/fuzz.py against PostgreSQL (a client_id holding U+0000 at the token endpoint); the class is
refused before any view runs (portal/errors.py), so new forms and routes are covered too."""

import base64

from sqlalchemy import func, select

from portal.extensions import db
from portal.security.models import AuditEvent
from tests.conftest import csrf_token_from


def test_the_token_endpoint_answers_an_oauth_error_for_a_nul_in_the_form(client):
    response = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "a\x00b",
                                                 "client_secret": "x"})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request" and "U+0000" in response.json["error_description"]


def test_a_nul_in_the_basic_header_is_an_unknown_client(client):
    credentials = base64.b64encode(b"care\x00portal:secret").decode()
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_a_nul_in_a_form_field_is_refused_with_a_page_that_says_why(app, client):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": "secretary\x00@example.org", "password": "x", "csrf_token": token})
    assert response.status_code == 400
    assert "Remove the NUL character (U+0000)" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0  # no sign-in attempt was made


def test_a_nul_in_a_path_segment_or_a_query_is_refused_in_each_api_style(client):
    page = client.get("/p/north%00side/login")
    assert page.status_code == 400 and "U+0000" in page.get_data(as_text=True)
    fhir = client.get("/fhir/stu3/Slot?schedule.actor:HealthcareService=1%00")
    assert fhir.status_code == 400 and fhir.json["resourceType"] == "OperationOutcome"
    assert "U+0000" in fhir.json["issue"][0]["diagnostics"]
    api = client.get("/api/consultations/1?at=%00")
    assert api.status_code == 400 and api.mimetype == "application/problem+json" and "U+0000" in api.json["detail"]


def test_text_without_nul_still_reaches_its_view(client):
    assert client.get("/p/northside/login?signed_out=1").status_code != 400
    unknown = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "nobody",
                                                "client_secret": "x"})
    assert unknown.json["error"] == "invalid_client"  # authlib's own answer: the id reached the client look-up
