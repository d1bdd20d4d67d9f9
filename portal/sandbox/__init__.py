"""The sandbox: stand-ins for the external systems, for local runs and tests only.

A separate small Flask app (`flask --app portal.sandbox run --port 5001`). Here it plays the
referral system: it sends signed referrals to the portal's webhook.
"""

import click
from flask import Flask, current_app, render_template_string, request

from portal.config import load_settings
from portal.sandbox import directories, oidc, referral_system

INDEX = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Care Portal sandbox</title></head>
<body><main><h1>Care Portal sandbox</h1>
<p>Stand-ins for the external systems the portal talks to. Portal: <a href="{{ portal }}">{{ portal }}</a></p>
<h2>Directories and demographics</h2>
<p>Service directory (DoS): <code>POST /dos/CheckCapacitySummary</code>, <code>GET /dos/ServiceDetailsByID/&lt;id&gt;</code>;
endpoint directory (SDS): <code>GET /sds/accredited-system?asid=</code>, <code>GET /sds/endpoint?partyKey=</code>;
demographics (PDS): <code>GET /pds/Patient/&lt;NHS number&gt;</code>.</p>
<form method="post" action="/failure-mode"><label for="system">System</label>
<select id="system" name="system"><option>dos</option><option>sds</option><option>pds</option></select>
<label for="mode">Behaviour</label><select id="mode" name="mode"><option>ok</option><option>500</option><option>slow</option></select>
<button>Set</button></form>
<h2>Referral system</h2>
<form method="post" action="/referral-system/send"><label for="count">Referrals to send</label>
<input id="count" name="count" type="number" min="1" max="50" value="1"><button>Send</button></form>
{% if sent %}<p role="status">Sent: {{ sent }}</p>{% endif %}
</main></body></html>"""


def create_app() -> Flask:
    app = Flask(__name__)
    settings = load_settings()
    app.config.update(
        PORTAL_URL=settings["PORTAL_URL"],
        REFERRAL_WEBHOOK_SECRET=settings["REFERRAL_WEBHOOK_SECRET"],
        SQLALCHEMY_DATABASE_URI=settings["SQLALCHEMY_DATABASE_URI"],
    )
    app.register_blueprint(directories.bp)
    oidc.init_app(app)

    @app.get("/")
    def index():
        return render_template_string(INDEX, portal=current_app.config["PORTAL_URL"], sent=None)

    @app.post("/referral-system/send")
    def send():
        count = min(max(request.form.get("count", 1, type=int) or 1, 1), 50)
        results = referral_system.send_referrals(current_app.config["PORTAL_URL"],
                                                 current_app.config["REFERRAL_WEBHOOK_SECRET"], count)
        summary = ", ".join(str(status) for status, _ in results)
        return render_template_string(INDEX, portal=current_app.config["PORTAL_URL"], sent=summary)

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
