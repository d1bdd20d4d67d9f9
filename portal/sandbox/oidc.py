"""A stand-in OpenID Connect provider for two demo partner tenants, built on authlib's server side.

Authorization code + PKCE (S256), a discovery document and JWKS per tenant, id_tokens signed
RS256 carrying the client's nonce. Login is a page that lists the tenant's demo users.
State lives in this process (the sandbox runs as one process); the signing key is made at start.
"""

import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Blueprint, abort, current_app, jsonify, render_template_string, request, url_for
from joserfc.jwk import RSAKey

bp = Blueprint("sandbox_oidc", __name__, url_prefix="/idp")

CLIENT_ID = "care-portal"

DEMO_TENANTS = {
    "northside": {
        "name": "Northside Home Care",
        "users": [
            {"sub": "ns-alice", "email": "alice@northside.example", "name": "Alice Admin"},
            {"sub": "ns-sam", "email": "sam@northside.example", "name": "Sam Scheduler"},
            {"sub": "ns-vic", "email": "vic@northside.example", "name": "Vic Viewer"},
        ],
    },
    "harbour": {
        "name": "Harbour Nursing Homes",
        "users": [
            {"sub": "hb-hana", "email": "hana@harbour.example", "name": "Hana Admin"},
            {"sub": "hb-sid", "email": "sid@harbour.example", "name": "Sid Scheduler"},
        ],
    },
}


def client_secret_for(tenant: str) -> str:
    """The demo client secret of a tenant (a stand-in, so a fixed demo value is fine)."""
    return f"sandbox-{tenant}-secret"


@dataclass
class Client:
    tenant: str
    client_id: str = CLIENT_ID

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = {"openid", "email", "profile"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        # Any portal on loopback (tests use random ports) or the configured portal, tenant's callback only.
        parts = urlsplit(redirect_uri or "")
        portal = urlsplit(current_app.config.get("PORTAL_URL", ""))
        host_ok = parts.hostname in ("127.0.0.1", "localhost") or parts.netloc == portal.netloc
        return host_ok and parts.path == f"/p/{self.tenant}/callback"

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret or "", client_secret_for(self.tenant))

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))
    expires_at: float = field(default_factory=lambda: time.time() + 60)

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None

    def is_expired(self):
        return time.time() > self.expires_at


class Tenant:
    """One tenant: its own authorization server, issuer, codes and nonces."""

    def __init__(self, app, slug: str):
        self.slug = slug
        self.client = Client(tenant=slug)
        self.codes: dict[str, Code] = {}
        self.used_nonces: set[str] = set()
        self.server = AuthorizationServer()
        self.server.init_app(app, query_client=self._query_client, save_token=lambda token, req: None)
        tenant = self

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code, req):
                payload = req.payload
                tenant.used_nonces.add(payload.data.get("nonce"))
                tenant.codes[code] = Code(code, payload.client_id, payload.redirect_uri, payload.scope, req.user,
                                          payload.data.get("nonce"), payload.data.get("code_challenge"),
                                          payload.data.get("code_challenge_method"))

            def query_authorization_code(self, code, client):
                found = tenant.codes.get(code)
                if found and found.client_id == client.get_client_id() and not found.is_expired():
                    return found
                return None

            def delete_authorization_code(self, authorization_code):
                tenant.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class TenantOpenIDCode(OpenIDCode):
            def exists_nonce(self, nonce, req):
                # A nonce already bound to an issued code is a replay.
                return nonce in tenant.used_nonces

            def resolve_client_private_key(self, client):
                return app.extensions["sandbox_oidc_key"]

            def get_client_claims(self, client):
                return {"iss": tenant.issuer(), "aud": [client.get_client_id()], "exp": int(time.time()) + 300}

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": app.extensions["sandbox_oidc_key"].kid}

            def generate_user_info(self, user, scope):
                return UserInfo(sub=user["sub"], email=user["email"], name=user["name"])

        self.server.register_grant(CodeGrant, [CodeChallenge(required=True), TenantOpenIDCode(require_nonce=True)])

    def _query_client(self, client_id):
        return self.client if client_id == self.client.client_id else None

    def issuer(self) -> str:
        return url_for("sandbox_oidc.discovery", tenant=self.slug, _external=True).rsplit(
            "/.well-known/openid-configuration", 1)[0]

    def user(self, sub: str) -> dict | None:
        return next((u for u in DEMO_TENANTS[self.slug]["users"] if u["sub"] == sub), None)


def _tenant(slug: str) -> Tenant:
    tenants = current_app.extensions["sandbox_oidc_tenants"]
    if slug not in tenants:
        abort(404)
    return tenants[slug]


LOGIN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in — {{ name }}</title></head>
<body><main><h1>{{ name }} — sign in</h1><p>Sandbox identity provider. Choose a demo user.</p>
<form method="post" action="{{ request.path }}">
{% for name, value in params.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<fieldset><legend>Demo user</legend>
{% for u in users %}<div>
<input type="radio" id="u-{{ u.sub }}" name="sub" value="{{ u.sub }}"{% if loop.first %} checked{% endif %}>
<label for="u-{{ u.sub }}">{{ u.name }} ({{ u.email }})</label></div>{% endfor %}
</fieldset><button>Continue</button></form></main></body></html>"""


@bp.get("/<tenant>/.well-known/openid-configuration")
def discovery(tenant):
    t = _tenant(tenant)
    issuer = t.issuer()
    return jsonify({
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code"],
    })


@bp.get("/<tenant>/jwks")
def jwks(tenant):
    _tenant(tenant)
    key = current_app.extensions["sandbox_oidc_key"]
    return jsonify({"keys": [key.as_dict(private=False)]})


@bp.route("/<tenant>/authorize", methods=["GET", "POST"])
def authorize(tenant):
    t = _tenant(tenant)
    try:
        grant = t.server.get_consent_grant(end_user=None)
    except Exception as error:  # noqa: BLE001 — authlib raises its OAuth2Error family; show it plainly
        return f"Bad authorization request: {getattr(error, 'error', 'invalid_request')}", 400
    if request.method == "GET":
        # The authorization parameters ride along in the form: authlib reads a POST's body.
        return render_template_string(LOGIN, name=DEMO_TENANTS[tenant]["name"], users=DEMO_TENANTS[tenant]["users"],
                                      params=request.args.to_dict())
    user = t.user(request.form.get("sub", ""))
    if user is None:
        return "Unknown demo user", 400
    return t.server.create_authorization_response(grant_user=user, grant=grant)


@bp.post("/<tenant>/token")
def token(tenant):
    return _tenant(tenant).server.create_token_response()


def init_app(app) -> None:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)
    key.ensure_kid()
    app.extensions["sandbox_oidc_key"] = key
    app.extensions["sandbox_oidc_tenants"] = {slug: Tenant(app, slug) for slug in DEMO_TENANTS}
    app.register_blueprint(bp)
