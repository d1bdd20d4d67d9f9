"""The sandbox: stand-ins for the external systems, for local runs and tests only.

A separate small Flask app (`flask --app portal.sandbox run --port 5001`). It plays the
referral system (sends signed referrals to the portal's webhook), the chat key service, the
video service, the SMS gateway, GOV.UK Notify and Twilio (`sms_providers.py`), and, over SMTP
on SANDBOX_SMTP_PORT, the mail server (aiosmtpd). `/outbox` lists every SMS and e-mail "sent".
"""

import os
import time

import click
import jwt
from flask import Flask, abort, current_app, render_template_string, request

from portal.config import load_settings
from portal.sandbox import directories, oidc, referral_system, sms_providers, travel_claims
from portal.sandbox.messaging import Store, start_mail_catcher

PAGE_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title></head><body><main>"""

INDEX = PAGE_HEAD + """<h1>Care Portal sandbox</h1>
<p>Stand-ins for the external systems the portal talks to. Portal: <a href="{{ portal }}">{{ portal }}</a></p>
<h2>Directories and demographics</h2>
<p>Service directory (DoS): <code>POST /dos/CheckCapacitySummary</code>,
<code>GET /dos/ServiceDetailsByID/&lt;id&gt;</code>;
endpoint directory (SDS): <code>GET /sds/accredited-system?asid=</code>, <code>GET /sds/endpoint?partyKey=</code>;
demographics (PDS): <code>GET /pds/Patient/&lt;NHS number&gt;</code>.</p>
<form method="post" action="/failure-mode"><label for="system">System</label>
<select id="system" name="system"><option>dos</option><option>sds</option><option>pds</option></select>
<label for="mode">Behaviour</label>
<select id="mode" name="mode"><option>ok</option><option>500</option><option>slow</option></select>
<button>Set</button></form>
<p><a href="/outbox">Every SMS and e-mail sent</a></p>
<p>SMS providers in their own API shapes (the portal's <code>SMS_PROVIDER</code>): our gateway
<code>POST /sms/messages</code>, GOV.UK Notify <code>POST /v2/notifications/sms</code>, Twilio
<code>POST /twilio/2010-04-01/Accounts/&lt;sid&gt;/Messages.json</code>.</p>
<h2>Referral system</h2>
<form method="post" action="/referral-system/send"><label for="count">Referrals to send</label>
<input id="count" name="count" type="number" min="1" max="50" value="1"><button>Send</button></form>
{% if sent %}<p role="status">Sent: {{ sent }}</p>{% endif %}
<h2>Failure modes</h2>
<form method="post" action="/failures">
{% for name, mode in failures.items() %}
<label for="f-{{ name }}">{{ name }}</label>
<select id="f-{{ name }}" name="{{ name }}">{% for m in ("ok", "5xx", "slow") %}
<option{% if m == mode %} selected{% endif %}>{{ m }}</option>{% endfor %}</select>
{% endfor %}<button>Set</button></form>
{{ travel|safe }}
</main></body></html>"""

OUTBOX = PAGE_HEAD + """<h1>Sent messages</h1><p><a href="/">Sandbox</a></p>
<h2>SMS ({{ sms|length }})</h2><ol>{% for m in sms|reverse %}
<li><strong>{{ m.to }}</strong> {{ m.at }} (via {{ m.via }})<br>{{ m.text }}</li>{% endfor %}</ol>
<h2>E-mail ({{ emails|length }})</h2><ol>{% for m in emails|reverse %}
<li><strong>{{ m.to|join(', ') }}</strong> {{ m.at }} — {{ m.subject }}<br>{{ m.text }}</li>{% endfor %}</ol>
</main></body></html>"""

VIDEO = PAGE_HEAD + """<h1>Video room {{ room }}</h1>
<p>This is the sandbox's stand-in for the video service. In production the video call runs here.</p>
{% if joined %}<p role="status" id="joined">Joined as {{ 'the doctor' if joined.o else 'the patient' }}: {{ joined.u }}
({{ joined.ud }}).</p>{% else %}<p role="alert" id="refused">Not joined: {{ refused }}.</p>{% endif %}
</main></body></html>"""


def create_app(smtp_port: int | None = None) -> Flask:
    app = Flask(__name__)
    settings = load_settings()
    app.config.update(
        PORTAL_URL=settings["PORTAL_URL"],
        REFERRAL_WEBHOOK_SECRET=settings["REFERRAL_WEBHOOK_SECRET"],
        SQLALCHEMY_DATABASE_URI=settings["SQLALCHEMY_DATABASE_URI"],
        SMS_API_KEY=settings["SMS_API_KEY"],
        CHAT_KEY_SERVICE_API_KEY=settings["CHAT_KEY_SERVICE_API_KEY"],
        VIDEO_SERVICE_API_KEY=settings["VIDEO_SERVICE_API_KEY"],
        INSURER_API_KEY=settings["INSURER_API_KEY"],
        TRAVEL_CLIENT_ID=settings["TRAVEL_CLIENT_ID"],
        TRAVEL_CLIENT_SECRET=settings["TRAVEL_CLIENT_SECRET"],
        VIDEO_KEY_SECRET=settings["VIDEO_KEY_SECRET"],
        NOTIFY_API_KEY=settings["NOTIFY_API_KEY"],
        NOTIFY_SMS_TEMPLATE_ID=settings["NOTIFY_SMS_TEMPLATE_ID"],
        TWILIO_ACCOUNT_SID=settings["TWILIO_ACCOUNT_SID"],
        TWILIO_AUTH_TOKEN=settings["TWILIO_AUTH_TOKEN"],
    )
    app.register_blueprint(directories.bp)
    app.register_blueprint(sms_providers.bp)
    travel_claims.init_app(app)
    store = Store()
    app.extensions["sandbox_store"] = store
    port = smtp_port if smtp_port is not None else int(os.environ.get("SANDBOX_SMTP_PORT", settings["SMTP_PORT"]))
    if port:
        try:
            app.extensions["sandbox_smtp"] = start_mail_catcher(store, "127.0.0.1", port)
        except (OSError, RuntimeError):
            app.logger.warning("mail catcher not started: port %s is in use", port)

    def misbehave(service: str):
        mode = store.failures.get(service, "ok")
        if mode == "5xx":
            abort(503)
        if mode == "slow":
            time.sleep(10)

    def require_key(name: str):
        if request.headers.get("Authorization") != f"Bearer {current_app.config[name]}":
            abort(401)
    oidc.init_app(app)

    @app.get("/")
    def index():
        return render_template_string(INDEX, title="Care Portal sandbox", portal=current_app.config["PORTAL_URL"],
                                      sent=None, failures=store.failures,
                                      travel=travel_claims.index_section())

    @app.post("/failures")
    def failures():
        for name in store.failures:
            if request.form.get(name) in ("ok", "5xx", "slow"):
                store.failures[name] = request.form[name]
        return render_template_string(INDEX, title="Care Portal sandbox", portal=current_app.config["PORTAL_URL"],
                                      sent=None, failures=store.failures,
                                      travel=travel_claims.index_section())

    @app.post("/referral-system/send")
    def send():
        count = min(max(request.form.get("count", 1, type=int) or 1, 1), 50)
        results = referral_system.send_referrals(current_app.config["PORTAL_URL"],
                                                 current_app.config["REFERRAL_WEBHOOK_SECRET"], count)
        summary = ", ".join(str(status) for status, _ in results)
        return render_template_string(INDEX, title="Care Portal sandbox", portal=current_app.config["PORTAL_URL"],
                                      sent=summary, failures=store.failures,
                                      travel=travel_claims.index_section())

    @app.post("/sms/messages")
    def sms_gateway():
        require_key("SMS_API_KEY")
        misbehave("sms")
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("to"), str) or not isinstance(body.get("text"), str):
            return {"error": "to and text are required"}, 422
        return {"id": store.add_sms(body["to"], body["text"])["id"]}, 201

    @app.post("/chat-keys/rooms")
    def chat_key_service():
        require_key("CHAT_KEY_SERVICE_API_KEY")
        misbehave("chat")
        body = request.get_json(silent=True) or {}
        return store.new_chat_room(str(body.get("reference", ""))), 201

    @app.post("/video/rooms")
    def video_service():
        require_key("VIDEO_SERVICE_API_KEY")
        misbehave("video")
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("name"), str) or not body["name"]:
            return {"error": "name is required"}, 422
        return store.new_video_room(body["name"]), 201

    @app.post("/insurer/coverage")
    def insurer_coverage():
        """Covered when the policy number ends in an even digit (so tests can pick either answer)."""
        require_key("INSURER_API_KEY")
        misbehave("insurer")
        number = (request.get_json(silent=True) or {}).get("policyNumber")
        if not isinstance(number, str) or not number.strip():
            return {"error": "policyNumber is required"}, 422
        return {"covered": number.strip()[-1] in "02468"}

    @app.route("/video/join/<room>", methods=["GET", "POST"])
    def video_join(room):
        """The participant key arrives in a POSTed form; it must be ours (HS256) and for this room."""
        key = request.form.get("key", "") if request.method == "POST" else ""
        if not key:
            return render_template_string(VIDEO, title="Video room", room=room, joined=None,
                                          refused="no participant key was given"), 400
        try:
            claims = jwt.decode(key, current_app.config["VIDEO_KEY_SECRET"], algorithms=["HS256"],
                                options={"require": ["r", "o", "ud", "iat"]})
        except jwt.PyJWTError:
            return render_template_string(VIDEO, title="Video room", room=room, joined=None,
                                          refused="the participant key is not valid"), 403
        if claims["r"] != room or not isinstance(claims["o"], bool):
            return render_template_string(VIDEO, title="Video room", room=room, joined=None,
                                          refused="the participant key is for another room"), 403
        return render_template_string(VIDEO, title="Video room", room=room, joined=claims, refused=None)

    @app.get("/outbox")
    def outbox():
        return render_template_string(OUTBOX, title="Sent messages", sms=store.sms, emails=store.emails)

    @app.get("/outbox.json")
    def outbox_json():
        return {"sms": store.sms, "emails": store.emails}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.cli.command("send-referral")
    @click.option("--count", default=1, show_default=True, type=click.IntRange(1, 100000))
    def send_referral_command(count):
        """Send COUNT signed, random referrals to the portal's webhook."""
        for status, body in referral_system.send_referrals(current_app.config["PORTAL_URL"],
                                                           current_app.config["REFERRAL_WEBHOOK_SECRET"], count):
            click.echo(f"{status} {body}")

    return app
