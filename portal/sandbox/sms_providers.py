"""Stand-ins for two real SMS providers, in their own API shapes, so their official clients talk to them:

- GOV.UK Notify: `POST /v2/notifications/sms` (at the sandbox's root, as the client joins an absolute path
  to its base URL), a JWT signed with the API key's secret (HS256, `iss` = service id, `iat` within 30 s),
  one known text message template whose content is `((body))`; answers 201 with Notify's notification
  object, or Notify's error shape `{"status_code": …, "errors": [{"error": …, "message": …}]}`.
- Twilio: `POST /twilio/2010-04-01/Accounts/<AccountSid>/Messages.json`, HTTP Basic with the account SID
  and auth token, form fields To, From or MessagingServiceSid, Body; answers 201 with Twilio's message
  resource, or Twilio's error shape `{"code": …, "message": …, "more_info": …, "status": …}`.

What they accept is kept in the sandbox's store (listed on /outbox, with the provider) like the gateway's.
The "sms" failure mode on the index page applies to both.
"""

import re
import time
import uuid
from datetime import datetime, timezone
from email.utils import format_datetime

from flask import Blueprint, current_app, request
from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import TokenError

bp = Blueprint("sms_providers", __name__)

PHONE = re.compile(r"\+?[0-9]{8,15}")


def _store():
    return current_app.extensions["sandbox_store"]


def _misbehaving() -> bool:
    mode = _store().failures.get("sms", "ok")
    if mode == "slow":
        time.sleep(10)
    return mode == "5xx"


# --- GOV.UK Notify ---------------------------------------------------------------------------------

def _notify_error(status: int, error: str, message: str):
    return {"status_code": status, "errors": [{"error": error, "message": message}]}, status


@bp.post("/v2/notifications/sms")
def notify_send_sms():
    api_key = current_app.config["NOTIFY_API_KEY"]
    service_id, secret = api_key[-73:-37], api_key[-36:]
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return _notify_error(401, "AuthError", "Unauthorized: authentication token must be provided")
    token = header[len("Bearer "):]
    try:
        if get_token_issuer(token) != service_id:
            return _notify_error(403, "AuthError", "Invalid token: service not found")
        decode_jwt_token(token, secret)
    except TokenError as exc:
        return _notify_error(403, "AuthError", exc.message)
    if _misbehaving():
        return _notify_error(500, "Exception", "Internal server error")
    body = request.get_json(silent=True) or {}
    if body.get("template_id") != current_app.config["NOTIFY_SMS_TEMPLATE_ID"]:
        return _notify_error(400, "BadRequestError", "Template not found")
    phone = str(body.get("phone_number", ""))
    if not PHONE.fullmatch(phone.replace(" ", "")):
        return _notify_error(400, "ValidationError", "phone_number Must not contain letters or symbols")
    text = (body.get("personalisation") or {}).get("body")
    if not isinstance(text, str):
        return _notify_error(400, "BadRequestError", "Missing personalisation: body")
    record = _store().add_sms(phone, text, via="notify")
    base = request.host_url.rstrip("/")
    template_id = body["template_id"]
    return {"id": record["id"], "reference": body.get("reference"),
            "content": {"body": text, "from_number": "CarePortal"},
            "uri": f"{base}/v2/notifications/{record['id']}",
            "template": {"id": template_id, "version": 1, "uri": f"{base}/v2/template/{template_id}"}}, 201


# --- Twilio ----------------------------------------------------------------------------------------

def _twilio_error(status: int, code: int, message: str):
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}, status


@bp.post("/twilio/2010-04-01/Accounts/<account_sid>/Messages.json")
def twilio_create_message(account_sid):
    cfg = current_app.config
    auth = request.authorization
    if (auth is None or auth.username != cfg["TWILIO_ACCOUNT_SID"] or auth.password != cfg["TWILIO_AUTH_TOKEN"]
            or account_sid != cfg["TWILIO_ACCOUNT_SID"]):
        return _twilio_error(401, 20003, "Authenticate")
    if _misbehaving():
        return _twilio_error(500, 20500, "Internal Server Error")
    form = request.form
    to, body = form.get("To", ""), form.get("Body", "")
    sender, service = form.get("From"), form.get("MessagingServiceSid")
    if not to:
        return _twilio_error(400, 21604, "A 'To' phone number is required.")
    if not PHONE.fullmatch(to):
        return _twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")  # as Twilio says it
    if not sender and not service:
        return _twilio_error(400, 21603, "A 'From' phone number is required.")
    if service and not service.startswith("MG"):
        return _twilio_error(400, 21701, "The Messaging Service Sid is invalid.")
    if not body:
        return _twilio_error(400, 21602, "Message body is required.")
    sid = "SM" + uuid.uuid4().hex
    _store().add_sms(to, body, via="twilio", record_id=sid)
    now = format_datetime(datetime.now(timezone.utc), usegmt=False)
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    return {"account_sid": account_sid, "api_version": "2010-04-01", "body": body, "date_created": now,
            "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": sender, "messaging_service_sid": service, "num_media": "0",
            "num_segments": str(len(body) // 160 + 1), "price": None, "price_unit": "USD", "sid": sid,
            "status": "accepted" if service else "queued", "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to, "uri": f"{uri}.json"}, 201
