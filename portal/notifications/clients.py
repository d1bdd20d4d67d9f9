"""Adapters to the SMS providers (our gateway, GOV.UK Notify, Twilio; HTTP) and the mail server (SMTP).

Every SMS adapter has `send(to, text) -> provider's message id` and raises SendFailed. Their messages
name the provider's status and error code only: a provider's own text can repeat the phone number.
"""

import logging
import smtplib
import ssl
from email.message import EmailMessage

import requests
from notifications_python_client.errors import APIError as NotifyError
from notifications_python_client.notifications import NotificationsAPIClient
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

# Twilio's client logs every request's URL and headers at INFO; ours are JSON lines, one per request.
_twilio_log = logging.getLogger("portal.notifications.twilio")
_twilio_log.setLevel(logging.WARNING)


class SendFailed(Exception):
    """The gateway or mail server did not take the message; safe to try again."""


class SmsGatewayClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 5):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def send(self, to: str, text: str) -> str:
        """Hand one SMS to the gateway; returns the gateway's message id."""
        try:
            response = requests.post(f"{self.base_url}/sms/messages", json={"to": to, "text": text},
                                     headers={"Authorization": f"Bearer {self.api_key}"}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SendFailed(f"SMS gateway unreachable ({type(exc).__name__})") from None
        if response.status_code != 201:
            raise SendFailed(f"SMS gateway answered {response.status_code}")
        return str(response.json().get("id", ""))


class NotifySmsClient:
    """GOV.UK Notify (and services built on it, such as VA Notify) through its official client.

    Notify sends templates: ours is one text message template whose whole content is `((body))`."""

    PERSONALISATION = "body"

    def __init__(self, api_key: str, template_id: str, base_url: str, timeout: float = 5):
        self.client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout)
        self.template_id = template_id

    def send(self, to: str, text: str) -> str:
        try:
            answer = self.client.send_sms_notification(phone_number=to, template_id=self.template_id,
                                                       personalisation={self.PERSONALISATION: text})
        except NotifyError as exc:
            kinds = sorted({e.get("error", "?") for e in exc.message if isinstance(e, dict)}) \
                if isinstance(exc.message, list) else []
            raise SendFailed(f"GOV.UK Notify answered {exc.status_code} ({', '.join(kinds) or 'no details'})") \
                from None
        return str(answer.get("id", ""))


class TwilioSmsClient:
    """Twilio's Programmable Messaging through its official client; from a number or a messaging service."""

    def __init__(self, account_sid: str, auth_token: str, base_url: str, timeout: float = 5, *,
                 from_number: str | None = None, messaging_service_sid: str | None = None):
        self.client = TwilioClient(account_sid, auth_token,
                                   http_client=TwilioHttpClient(timeout=timeout, logger=_twilio_log))
        self.client.api.base_url = base_url.rstrip("/")
        self.sender = {"messaging_service_sid": messaging_service_sid} if messaging_service_sid \
            else {"from_": from_number}

    def send(self, to: str, text: str) -> str:
        try:
            message = self.client.messages.create(to=to, body=text, **self.sender)
        except TwilioRestException as exc:
            raise SendFailed(f"Twilio answered {exc.status} (error {exc.code})") from None
        except (requests.RequestException, TwilioException) as exc:
            raise SendFailed(f"Twilio unreachable ({type(exc).__name__})") from None
        return message.sid


class MailClient:
    """SMTP without TLS (a relay on the host), with STARTTLS (port 587) or implicit TLS (port 465).

    The server's certificate is verified against the system's CAs, or `ca_file` for a private CA.
    A user name and password are only ever sent inside TLS: with security "none" the client refuses,
    and a server that does not offer STARTTLS is refused rather than spoken to in the clear."""

    def __init__(self, host: str, port: int, sender: str, timeout: float = 5, *, security: str = "none",
                 username: str | None = None, password: str | None = None, ca_file: str | None = None):
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"unknown SMTP security {security!r}")
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.security, self.username, self.password, self.ca_file = security, username, password, ca_file

    def send(self, to: str, subject: str, text: str) -> None:
        if self.username and self.security == "none":
            raise SendFailed("refusing to send the SMTP password over an unencrypted connection "
                             "(set SMTP_SECURITY to starttls or tls)")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        try:
            with self._connect() as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._tls())  # SMTPNotSupportedError when not offered: never go on in clear
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPNotSupportedError:
            raise SendFailed("mail server does not offer STARTTLS; not sending in the clear") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailed(f"mail server refused our user name and password ({exc.smtp_code})") from None
        except ssl.SSLError as exc:
            raise SendFailed(f"TLS with the mail server failed ({exc.reason or type(exc).__name__})") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"mail server did not accept the message ({type(exc).__name__})") from None

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)
