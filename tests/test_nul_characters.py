"""A NUL character (U+0000) never gives a 500. PostgreSQL cannot store or even compare one (SQLite can),
so text holding one that reaches a query without a text rule in front of it (a path segment, a field
without PlainText, a client id) is a clear 400 in the caller's style (portal/errors.py); fields with a
text rule refuse it in the form as before (422 with the field's message). Found by bench/fuzz.py
against PostgreSQL: a client_id holding U+0000 gave the token endpoint a 500."""

import base64

from tests.conftest import csrf_token_from


def _on_postgres(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def test_the_token_endpoint_answers_an_oauth_error_for_a_nul_in_the_client_id(client):
    response = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "a\x00b",
                                                 "client_secret": "x"})
    assert response.status_code == 400 and response.json["error"] == "invalid_client"


def test_a_nul_in_the_basic_header_is_an_unknown_client(client):
    credentials = base64.b64encode(b"care\x00portal:secret").decode()
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_a_nul_in_a_path_segment_that_reaches_a_query_is_a_clear_page(app, client):
    page = client.get("/p/north%00side/login")
    html = page.get_data(as_text=True)
    if _on_postgres(app):
        assert page.status_code == 400 and "Remove the NUL character (U+0000)" in html
    else:
        assert page.status_code == 404  # SQLite compares it like any character: no such organisation
    assert "Traceback" not in html
    assert client.get("/login").status_code == 200  # the next request is served as usual


def test_a_nul_in_a_sign_in_field_is_a_field_error_not_a_server_error(client):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": "secretary\x00@example.org", "password": "x",
                                           "csrf_token": token})
    assert response.status_code == 200 and "Invalid email address." in response.get_data(as_text=True)
