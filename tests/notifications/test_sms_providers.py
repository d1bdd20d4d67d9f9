"""SMS through the provider chosen by SMS_PROVIDER: our gateway (the default), GOV.UK Notify and Twilio,
each through its official client against the sandbox, which answers in that provider's API shape."""

from contextlib import contextmanager

import pytest
from sqlalchemy import select

from portal.config import SANDBOX_NOTIFY_API_KEY
from portal.extensions import db
from portal.notifications import services
from portal.notifications.clients import NotifySmsClient, SendFailed, TwilioSmsClient
from portal.notifications.models import Notification
from tests.conftest import run_notification_jobs

PHONE = "+4791234567"


@contextmanager
def sms_settings(app, **changes):
    before = {name: app.config.get(name) for name in changes}
    app.config.update(changes)
    try:
        yield
    finally:
        app.config.update(before)


def send_one(app, text="Your link: https://portal.example/c/abc", to=PHONE):
    with app.app_context():
        sms = services.queue_sms(to=to, text=text, kind="test")
        db.session.commit()
        services.dispatch([sms])
    run_notification_jobs(app)
    with app.app_context():
        sent = db.session.scalar(select(Notification))
        db.session.expunge(sent)
        db.session.remove()
        return sent


@pytest.mark.parametrize("provider", ["gateway", "notify", "twilio"])
def test_the_chosen_provider_delivers_the_outbox_sms(app, sandbox, provider):
    with sms_settings(app, SMS_PROVIDER=provider):
        sent = send_one(app)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)
    assert [(m["via"], m["to"], m["text"]) for m in sandbox.sms] == [
        (provider, PHONE, "Your link: https://portal.example/c/abc")]


def test_notify_answers_in_its_own_shape(app, sandbox):
    client = NotifySmsClient(app.config["NOTIFY_API_KEY"], app.config["NOTIFY_SMS_TEMPLATE_ID"], sandbox.url)
    answer = client.client.send_sms_notification(phone_number=PHONE, template_id=app.config["NOTIFY_SMS_TEMPLATE_ID"],
                                                 personalisation={"body": "Hello"}, reference="outbox-1")
    assert answer["content"]["body"] == "Hello" and answer["reference"] == "outbox-1"
    assert answer["template"]["id"] == app.config["NOTIFY_SMS_TEMPLATE_ID"] and answer["template"]["version"] == 1
    assert answer["uri"].endswith(f"/v2/notifications/{answer['id']}")


def test_twilio_answers_in_its_own_shape(app, sandbox):
    client = TwilioSmsClient(app.config["TWILIO_ACCOUNT_SID"], app.config["TWILIO_AUTH_TOKEN"], f"{sandbox.url}/twilio",
                             from_number="+15005550006")
    message = client.client.messages.create(to=PHONE, from_="+15005550006", body="Hello")
    assert message.sid.startswith("SM") and message.status == "queued" and message.direction == "outbound-api"
    assert message.to == PHONE and message.body == "Hello" and message.account_sid == app.config["TWILIO_ACCOUNT_SID"]
    with_service = TwilioSmsClient(app.config["TWILIO_ACCOUNT_SID"], app.config["TWILIO_AUTH_TOKEN"],
                                   f"{sandbox.url}/twilio", messaging_service_sid="MG" + "1" * 32)
    assert with_service.send(PHONE, "Hi").startswith("SM")
    assert sandbox.sms[-1]["via"] == "twilio"


def test_notify_refuses_a_key_of_another_service(app, sandbox):
    other_secret = SANDBOX_NOTIFY_API_KEY[:-36] + "00000000-0000-4000-8000-000000000000"
    with sms_settings(app, SMS_PROVIDER="notify", NOTIFY_API_KEY=other_secret):
        sent = send_one(app)
    assert (sent.status, sent.attempts) == ("pending", 1)
    assert sent.last_error == "GOV.UK Notify answered 403 (AuthError)"
    assert sandbox.sms == []


def test_notify_refuses_an_unknown_template(app, sandbox):
    with sms_settings(app, SMS_PROVIDER="notify", NOTIFY_SMS_TEMPLATE_ID="00000000-0000-4000-8000-000000000000"):
        sent = send_one(app)
    assert sent.last_error == "GOV.UK Notify answered 400 (BadRequestError)" and sandbox.sms == []


def test_twilio_refuses_a_wrong_token(app, sandbox):
    with sms_settings(app, SMS_PROVIDER="twilio", TWILIO_AUTH_TOKEN="not-the-token"):
        sent = send_one(app)
    assert sent.last_error == "Twilio answered 401 (error 20003)" and sandbox.sms == []


def test_a_provider_error_never_repeats_the_phone_number(app, sandbox):
    with sms_settings(app, SMS_PROVIDER="twilio"):
        sent = send_one(app, to="not-a-phone-12")
    assert sent.last_error == "Twilio answered 400 (error 21211)"
    assert "12" not in sent.last_error.replace("21211", "")


@pytest.mark.parametrize("provider", ["notify", "twilio"])
def test_a_provider_outage_is_retried(app, sandbox, provider):
    sandbox.failures["sms"] = "5xx"
    with sms_settings(app, SMS_PROVIDER=provider):
        sent = send_one(app)
    assert (sent.status, sent.attempts) == ("pending", 1) and "answered 500" in sent.last_error


def test_an_unreachable_provider_is_a_send_failure(app):
    closed = "http://127.0.0.1:9"
    with pytest.raises(SendFailed, match="GOV.UK Notify answered 503"):
        NotifySmsClient(app.config["NOTIFY_API_KEY"], app.config["NOTIFY_SMS_TEMPLATE_ID"], closed, 1).send(PHONE, "x")
    with pytest.raises(SendFailed, match="Twilio unreachable"):
        TwilioSmsClient(app.config["TWILIO_ACCOUNT_SID"], app.config["TWILIO_AUTH_TOKEN"], closed, 1,
                        from_number="+15005550006").send(PHONE, "x")
