"""Adapters to the SMS gateway (HTTP) and the mail server (SMTP)."""

import smtplib
from email.message import EmailMessage

import requests


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


class MailClient:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 5):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"mail server did not accept the message ({type(exc).__name__})") from None
