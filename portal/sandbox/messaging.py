"""Stand-ins for the SMS gateway (HTTP) and the mail server (SMTP, aiosmtpd), plus the
chat key service and the video service. Everything they receive is kept in memory and listed
on the sandbox's /outbox page. Failure modes are switched on /failures."""

import secrets
import ssl
import threading
import uuid
from datetime import datetime, timezone
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    """What the sandbox received, in memory (the sandbox is one process)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sms: list[dict] = []
        self.emails: list[dict] = []
        self.chat_rooms: dict[str, dict] = {}
        self.video_rooms: dict[str, dict] = {}
        # service name -> mode: "ok", "5xx", "slow"
        self.failures: dict[str, str] = {"sms": "ok", "chat": "ok", "video": "ok", "smtp": "ok", "insurer": "ok"}

    def add_sms(self, to: str, text: str, via: str = "gateway", record_id: str | None = None) -> dict:
        with self.lock:
            record = {"id": record_id or str(uuid.uuid4()), "to": to, "text": text, "at": _now(), "via": via}
            self.sms.append(record)
            return record

    def add_email(self, mail_from: str, to: list[str], subject: str, text: str) -> None:
        with self.lock:
            self.emails.append({"from": mail_from, "to": to, "subject": subject, "text": text, "at": _now()})

    def new_chat_room(self, reference: str) -> dict:
        room = {"roomId": str(uuid.uuid4()), "sharedSecretId": str(uuid.uuid4()),
                "sharedSecret": secrets.token_urlsafe(32), "reference": reference}
        with self.lock:
            self.chat_rooms[room["roomId"]] = room
        return room

    def new_video_room(self, name: str) -> dict:
        room = {"name": name, "externalId": str(uuid.uuid4())}
        with self.lock:
            self.video_rooms[name] = room
        return room


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _CatchMail:
    def __init__(self, store: Store):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        if self.store.failures.get("smtp") == "5xx":
            return "451 Requested action aborted: sandbox failure mode"
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        self.store.add_email(envelope.mail_from, list(envelope.rcpt_tos), str(message.get("Subject", "")),
                             body.get_content() if body else "")
        return "250 Message accepted"


class _Logins:
    """aiosmtpd authenticator: the user names and passwords the mail service accepts."""

    def __init__(self, logins: dict[str, str]):
        self.logins = logins

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        # handled=False: aiosmtpd answers 535 itself (its default assumes we already answered)
        return AuthResult(success=self.logins.get(user) == password and bool(password), handled=False)


def start_mail_catcher(store: Store, host: str, port: int, *, tls_context: ssl.SSLContext | None = None,
                       implicit_tls: bool = False, logins: dict[str, str] | None = None) -> Controller:
    """The mail catcher. With `tls_context` it plays a real mail service: STARTTLS required before
    anything else (port 587 style) or, with `implicit_tls`, TLS from the first byte (port 465 style);
    with `logins` it requires AUTH, which it only offers inside TLS."""
    kwargs = {}
    if logins is not None:
        # aiosmtpd counts only STARTTLS as TLS; under implicit TLS every byte is inside TLS already.
        kwargs.update(authenticator=_Logins(logins), auth_required=True, auth_require_tls=not implicit_tls)
    if tls_context is not None and implicit_tls:
        kwargs["ssl_context"] = tls_context
    elif tls_context is not None:
        kwargs.update(tls_context=tls_context, require_starttls=True)
    controller = Controller(_CatchMail(store), hostname=host, port=port, **kwargs)
    controller.start()
    return controller
