"""The client side of partner sign-in: OpenID Connect authorization code + PKCE through authlib.

Each tenant is registered from its provider's discovery document, so any standard provider
works. authlib keeps state, nonce and the PKCE verifier in the session under the tenant's
client name: a callback for another tenant finds no state and fails.
"""

import hashlib

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from joserfc.errors import JoseError

from portal.partners.models import Partner

oauth = OAuth()

SignInFailed = (OAuthError, JoseError, ValueError, KeyError, OSError)


def client_for(partner: Partner):
    """authlib's Flask client for the partner's provider, registered from its discovery document.

    authlib keeps the first client registered under a name for the life of the process, so the
    name carries a fingerprint of the settings: changed settings make a new client at once.
    """
    settings = f"{partner.idp_issuer}|{partner.idp_client_id}|{partner.idp_client_secret}"
    name = f"partner-{partner.tenant}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"
    existing = oauth.create_client(name)
    if existing is not None:
        return existing
    oauth.register(
        name=name,
        client_id=partner.idp_client_id, client_secret=partner.idp_client_secret,
        server_metadata_url=partner.idp_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "default_timeout": 5},
    )
    return oauth.create_client(name)


def init_app(app) -> None:
    oauth.init_app(app)
