"""E-mail to a real mail service: STARTTLS or implicit TLS, a user name and password, and never the
password in the clear. The service is aiosmtpd with a certificate made for the test (trusted through
SMTP_CA_FILE, as a private CA would be)."""

import datetime
import ipaddress
import socket
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portal.extensions import db
from portal.notifications import services
from portal.notifications.clients import MailClient, SendFailed
from portal.sandbox.messaging import Store, start_mail_catcher
from tests.conftest import run_notification_jobs

LOGINS = {"portal@clinic.example": "mail-password-1"}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert file, key file)."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mail_service(certificate):
    """Start a mail service: `mail_service("starttls" | "tls" | "plain")` → (store, port)."""
    controllers = []

    def start(kind: str, logins=LOGINS):
        context = None
        if kind != "plain":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certificate)
        store, port = Store(), _free_port()
        controllers.append(start_mail_catcher(store, "127.0.0.1", port, tls_context=context,
                                              implicit_tls=kind == "tls", logins=logins))
        return store, port

    yield start
    for controller in controllers:
        controller.stop()


def client(port, certificate, **kwargs) -> MailClient:
    kwargs.setdefault("ca_file", certificate[0])
    return MailClient("127.0.0.1", port, "Clinic <no-reply@clinic.example>", 5, **kwargs)


def received(store: Store, count: int = 1) -> list[dict]:
    deadline = time.monotonic() + 5
    while len(store.emails) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return store.emails


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_mail_is_sent_inside_tls_with_user_name_and_password(mail_service, certificate, security):
    store, port = mail_service(security)
    client(port, certificate, security=security, username="portal@clinic.example",
           password="mail-password-1").send("line@example.com", "Your link", "Open it within 72 hours.")
    [mail] = received(store)
    assert mail["to"] == ["line@example.com"] and mail["subject"] == "Your link"
    assert mail["text"].strip() == "Open it within 72 hours."


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_wrong_password_is_refused(mail_service, certificate, security):
    store, port = mail_service(security)
    with pytest.raises(SendFailed, match="refused our user name and password"):
        client(port, certificate, security=security, username="portal@clinic.example",
               password="not-it").send("line@example.com", "Hi", "text")
    assert store.emails == []


def test_the_password_is_never_sent_without_tls(mail_service, certificate):
    store, port = mail_service("plain", logins=None)  # would take anything, in the clear
    with pytest.raises(SendFailed, match="refusing to send the SMTP password over an unencrypted connection"):
        client(port, certificate, security="none", username="portal@clinic.example",
               password="mail-password-1").send("line@example.com", "Hi", "text")
    assert store.emails == []


def test_a_server_without_starttls_is_not_spoken_to_in_the_clear(mail_service, certificate):
    store, port = mail_service("plain", logins=None)
    with pytest.raises(SendFailed, match="does not offer STARTTLS"):
        client(port, certificate, security="starttls", username="portal@clinic.example",
               password="mail-password-1").send("line@example.com", "Hi", "text")
    assert store.emails == []


def test_an_untrusted_certificate_is_refused(mail_service, certificate):
    store, port = mail_service("tls")
    with pytest.raises(SendFailed, match="TLS with the mail server failed"):
        client(port, certificate, security="tls", ca_file=None, username="portal@clinic.example",
               password="mail-password-1").send("line@example.com", "Hi", "text")
    assert store.emails == []


def test_a_service_that_requires_starttls_refuses_a_plain_client(mail_service, certificate):
    store, port = mail_service("starttls", logins=None)
    with pytest.raises(SendFailed, match="did not accept"):
        client(port, certificate, security="none").send("line@example.com", "Hi", "text")
    assert store.emails == []


def test_the_outbox_sends_through_the_configured_mail_service(app, mail_service, certificate):
    store, port = mail_service("starttls")
    mail_settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_SECURITY": "starttls",
                     "SMTP_USERNAME": "portal@clinic.example", "SMTP_PASSWORD": "mail-password-1",
                     "SMTP_CA_FILE": certificate[0]}
    before = {name: app.config[name] for name in mail_settings}
    app.config.update(mail_settings)
    try:
        with app.app_context():
            mail = services.queue_email(to="line@example.com", subject="Hello", text="Your link", kind="test")
            db.session.commit()
            services.dispatch([mail])
            mail_id = mail.id
        run_notification_jobs(app)
        with app.app_context():
            assert services.db.session.get(services.Notification, mail_id).status == "sent"
    finally:
        app.config.update(before)
    assert [m["subject"] for m in received(store)] == ["Hello"]
