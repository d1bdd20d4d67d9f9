"""OAuth2 client credentials for machine clients: the token endpoint and bearer-token checks.

Authlib's AuthorizationServer runs the grant (client authentication, scope checks, error
answers); the access token is a JWT we sign (HS256, API_TOKEN_KEY), so checking a bearer
token needs no token table, only a look at whether the client is still active.
"""

import secrets
import time
import uuid
from dataclasses import dataclass

import jwt
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from flask import Blueprint, current_app
from sqlalchemy import bindparam, select

from portal.extensions import csrf, db, limiter
from portal.fhir.models import ApiClient
from portal.security import audit, verified_tokens

SCOPES = ("appointment/*.write", "slot/*.read", "schedule/*.read", "location/*.read", "organization/*.read",
          "healthcareservice/*.read")
AUDIENCE = "care-portal-fhir"
ISSUER = "care-portal"

# Its own blueprint, named after its package: /oauth/token is outside /fhir/stu3, and a child of the
# fhir blueprint would take that prefix and its hooks.
bp = Blueprint("fhir_oauth", __name__, url_prefix="/oauth")
authorization = AuthorizationServer()


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def _query_client(client_id: str) -> ApiClient | None:
    # The id may come from a Basic header, past the request hook that refuses NUL in forms and queries;
    # no client id holds one (PostgreSQL could not even compare it).
    if not client_id or "\x00" in client_id or len(client_id) > 200:
        return None
    return db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id, ApiClient.active))


# Checked on every API call (a disabled client's tokens stop at once), so one column, no entity, and a Core
# statement built once, run on the session's connection: no ORM layers on the way.
_ACTIVE_CLIENT = select(ApiClient.__table__.c.id).where(ApiClient.__table__.c.client_id == bindparam("client_id"),
                                                         ApiClient.__table__.c.active)


def _client_is_active(client_id: str) -> bool:
    return db.session.connection().scalar(_ACTIVE_CLIENT, {"client_id": client_id}) is not None


def _save_token(token: dict, request) -> None:
    # Tokens are self-contained JWTs; only the issue is recorded.
    audit.record("api_client.token_issued", subject=request.client, actor=("api_client", request.client.client_id),
                 scope=token.get("scope"))
    db.session.commit()


def _access_token(client: ApiClient, grant_type: str, user, scope: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": client.client_id, "scope": scope, "iat": now,
              "exp": now + current_app.config["API_TOKEN_TTL_SECONDS"], "jti": uuid.uuid4().hex}
    return jwt.encode(claims, current_app.config["API_TOKEN_KEY"], algorithm="HS256")


def _expires_in(client, grant_type) -> int:
    return current_app.config["API_TOKEN_TTL_SECONDS"]


@bp.post("/token")
@csrf.exempt
@limiter.limit("60 per minute")
def token():
    return authorization.create_token_response()


def init_app(app) -> None:
    authorization.init_app(app, query_client=_query_client, save_token=_save_token)
    authorization.scopes_supported = list(SCOPES)
    authorization.register_token_generator("default", BearerTokenGenerator(_access_token, None, _expires_in))
    authorization.register_grant(ClientCredentialsGrant)
    app.register_blueprint(bp)


# --- clients -------------------------------------------------------------------------------------

class InvalidClient(ValueError):
    pass


def create_api_client(*, name: str, scopes: list[str], client_id: str | None = None) -> tuple[ApiClient, str]:
    """A new API client; returns it with its secret, which is shown once and stored only hashed."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidClient(f"unknown scopes: {' '.join(unknown)}" if unknown else "give at least one scope")
    client_id = client_id or secrets.token_hex(12)
    if _query_client(client_id) is not None or db.session.scalar(
            select(ApiClient.id).where(ApiClient.client_id == client_id)):
        raise InvalidClient("that client id is taken")
    secret = secrets.token_urlsafe(32)
    client = ApiClient(client_id=client_id, name=name.strip(), scopes=" ".join(dict.fromkeys(scopes)))
    client.set_secret(secret)
    db.session.add(client)
    audit.record("api_client.created", subject=client)
    db.session.commit()
    return client, secret


def ensure_api_client(*, client_id: str, secret: str, name: str, scopes: list[str]) -> ApiClient:
    """Create the client, or reset its secret, name and scopes (the demo's loopback consumer)."""
    client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        client = ApiClient(client_id=client_id)
        db.session.add(client)
    client.name, client.scopes, client.active = name, " ".join(scopes), True
    client.set_secret(secret)
    db.session.commit()
    return client


# --- bearer tokens -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    client_id: str
    scopes: list[str]

    @property
    def actor(self) -> tuple[str, str]:
        return ("api_client", self.client_id)


class TokenRejected(Exception):
    pass


def caller_from_authorization(header: str | None) -> Caller:
    """The API client behind an `Authorization: Bearer <jwt>` header, or TokenRejected saying why."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise TokenRejected("a bearer access token is required")
    try:
        claims = verified_tokens.decode_hs256(value.strip(), current_app.config["API_TOKEN_KEY"], audience=AUDIENCE,
                                              issuer=ISSUER, options={"require": ["exp", "sub", "scope"]})
    except jwt.ExpiredSignatureError:
        raise TokenRejected("the access token has expired") from None
    except jwt.InvalidTokenError:
        raise TokenRejected("the access token is not valid") from None
    if not _client_is_active(claims["sub"]):
        raise TokenRejected("the client of this access token is not active")
    return Caller(client_id=claims["sub"], scopes=str(claims["scope"]).split())
