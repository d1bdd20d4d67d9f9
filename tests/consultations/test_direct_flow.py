"""The direct flow: /start → e-mailed sign-in link → insurer coverage → need → the waiting room."""

import re
import time

from sqlalchemy import func, select

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
    for name, words in (("\u200b", "only invisible"), ("Ka\x00ri", "control character"),
                        ("Kari\u202eirak", "text-direction control")):
        refused = post_form(client, "/start", {**ME, "first_name": name})
        assert refused.status_code == 422 and words in refused.get_data(as_text=True), name
    assert client.get("/start/coverage").headers["Location"].endswith("/start")
    assert client.get("/start/" + "x" * 300).status_code == 404
    assert client.get("/start/unknown-token").status_code == 404


def ask(app, sandbox, identity: dict) -> int:
    """The whole direct flow for `identity` in a fresh browser; the new consultation's patient id."""
    c = app.test_client()
    sandbox.emails.clear()
    assert post_form(c, "/start", identity).status_code == 200
    c.get(sign_in_link(app, sandbox))
    post_form(c, "/start/coverage", {"policy_number": "POL-1234"})
    assert post_form(c, "/start/need", {"need": "Sore throat.", "channel": "CHAT"}).status_code == 302
    with app.app_context():
        return db.session.scalar(select(Consultation.patient_id).order_by(Consultation.id.desc()))


def patient_count(app) -> int:
    from sqlalchemy import func

    from portal.patients.models import Patient

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Patient))


def test_a_returning_patient_is_found_again_not_duplicated(app, sandbox):
    first = ask(app, sandbox, ME)
    again = ask(app, sandbox, {**ME, "email": "KARI@example.com", "last_name": "hansen ",
                               "phone": "+4798765432"})
    assert again == first and patient_count(app) == 1
    with app.app_context():
        from portal.patients.models import Patient

        patient = db.session.get(Patient, first)
        assert patient.phone == "+4798765432"  # the link goes where they asked this time
        assert patient.first_name == "Kari" and patient.national_id is None
        assert db.session.scalar(select(func.count()).select_from(Consultation)) == 2


def test_different_people_are_never_merged(app, sandbox):
    first = ask(app, sandbox, ME)
    # a child on the parent's e-mail, a spouse with the same e-mail and birthday, a namesake elsewhere
    others = [ask(app, sandbox, {**ME, "first_name": "Ola", "birth_date": "2010-03-02"}),
              ask(app, sandbox, {**ME, "last_name": "Berg"}),
              ask(app, sandbox, {**ME, "email": "kari.hansen@example.org"})]
    assert len({first, *others}) == 4 and patient_count(app) == 4


def test_a_referred_patient_is_not_matched_by_the_direct_flow(app, sandbox):
    from tests.conftest import make_patient

    referred = make_patient(app, last_name="Hansen", email=ME["email"])  # has a national id
    direct = ask(app, sandbox, ME)
    assert direct != referred and patient_count(app) == 2
