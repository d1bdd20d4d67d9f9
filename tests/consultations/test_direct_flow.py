"""The direct flow: /start → e-mailed sign-in link → insurer coverage → need → the waiting room."""

import re
import time

from sqlalchemy import select

from portal.consultations.models import Consultation
from portal.extensions import db
from tests.conftest import csrf_token_from, run_notification_jobs

ME = {"first_name": "Kari", "last_name": "Hansen", "birth_date": "1965-07-15", "email": "kari@example.com",
      "phone": "+4792345678"}


def post_form(c, path, data):
    return c.post(path, data={"csrf_token": csrf_token_from(c.get(path).get_data(as_text=True)), **data})


def sign_in_link(app, sandbox) -> str:
    run_notification_jobs(app)
    deadline = time.time() + 5
    while time.time() < deadline and not sandbox.emails:
        time.sleep(0.05)
    return re.search(r"(/start/[A-Za-z0-9_-]+)", sandbox.emails[-1]["text"]).group(1)


def test_patient_asks_for_a_consultation_and_waits(app, client, sandbox):
    sent = post_form(client, "/start", ME)
    assert sent.status_code == 200 and "Check your e-mail" in sent.get_data(as_text=True)
    link = sign_in_link(app, sandbox)
    assert client.get(link).headers["Location"].endswith("/start/coverage")
    assert app.test_client().get(link).status_code == 404  # the link works once
    assert post_form(client, "/start/coverage", {"policy_number": "POL-1234"}).headers["Location"].endswith(
        "/start/need")
    done = post_form(client, "/start/need", {"need": "A rash on my arm since Monday.", "channel": "VIDEO"})
    assert done.headers["Location"].endswith("/c/room")
    assert "Your doctor will join soon" in client.get("/c/room").get_data(as_text=True)
    with app.app_context():
        consultation = db.session.scalar(select(Consultation))
        assert consultation.source == "direct" and consultation.state == "ready_for_pickup"
        assert consultation.enabled_channels == ["CHAT", "VIDEO"] and consultation.primary_channel == "VIDEO"
        assert consultation.need == "A rash on my arm since Monday." and consultation.patient.email == ME["email"]


def test_policy_without_cover_is_refused(app, client, sandbox):
    post_form(client, "/start", ME)
    client.get(sign_in_link(app, sandbox))
    refused = post_form(client, "/start/coverage", {"policy_number": "POL-1233"})
    assert refused.status_code == 422 and "does not cover" in refused.get_data(as_text=True)
    assert client.get("/start/need").headers["Location"].endswith("/start")


def test_insurer_down_is_said_plainly(app, client, sandbox):
    post_form(client, "/start", ME)
    client.get(sign_in_link(app, sandbox))
    sandbox.failures["insurer"] = "5xx"
    response = post_form(client, "/start/coverage", {"policy_number": "POL-1234"})
    assert response.status_code == 503 and "could not reach your insurer" in response.get_data(as_text=True)


def test_bad_input_gets_errors_not_500s(app, client, sandbox):
    assert post_form(client, "/start", {**ME, "email": "not an email"}).status_code == 422
    assert post_form(client, "/start", {**ME, "birth_date": "yesterday"}).status_code == 422
    assert post_form(client, "/start", {**ME, "phone": "12"}).status_code == 422
    assert client.get("/start/coverage").headers["Location"].endswith("/start")
    assert client.get("/start/" + "x" * 300).status_code == 404
    assert client.get("/start/unknown-token").status_code == 404
