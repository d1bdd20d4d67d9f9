"""The client side of partner sign-in: OpenID Connect authorization code + PKCE through authlib.

Each tenant is registered from its provider's discovery document, so any standard provider
works. authlib keeps state, nonce and the PKCE verifier in the session under the tenant's
client name: a callback for another tenant finds no state and fails.
"""

import hashlib

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import current_app, g, request, session, url_for
from joserfc.errors import JoseError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager

from portal.extensions import db
from portal.partners.models import TENANT_PATTERN, Partner, PartnerUser
from portal.partners.services import partner_by_tenant
from portal.security import auth

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


def refresh_provider(client) -> None:
    """Read the provider's discovery document again before sending a browser there.

    authlib keeps the first document for the life of the process, so a tenant that signed in
    before would send the browser straight to a provider that is down, where the person sees the
    browser's own error. Asking once per sign-in (a few ms) lets the portal say so on its own page
    instead, and picks up a provider that moved its endpoints. Raises a SignInFailed error when the
    provider does not answer."""
    client.server_metadata.pop("_loaded_at", None)
    client.load_server_metadata()


def identity_claims(client, token: dict) -> dict:
    """The ID token's claims, completed from the userinfo endpoint when they lack the e-mail.

    Many providers (panva's oidc-provider by default, which follows OpenID Connect Core 5.4) put
    the claims of the `email` and `profile` scopes only in the userinfo response when an access
    token is issued. Userinfo is trusted only for the same subject (Core 5.3.2); the issuer and
    subject always come from the verified ID token."""
    claims = dict(token.get("userinfo") or {})
    if claims.get("email") or not token.get("access_token"):
        return claims
    userinfo = client.userinfo(token=token)
    if userinfo.get("sub") != claims.get("sub"):
        raise ValueError("userinfo is about another subject")
    return {**userinfo, **claims}


def init_app(app) -> None:
    oauth.init_app(app)
    # The staff sign-in knows partner users only through these two hooks (security sits below partners).
    auth.register_user_kind("partner", _load_partner_user)
    auth.register_sign_in_target("partners", sign_in_target)
    app.add_template_global(partner_home_url)


# One query, partner included. A deactivated user, a user of a deactivated partner, and a cookie from before a
# role change (older epoch) are signed out at their next request, even if Redis failed when their sessions were
# ended. The partner's sealed client secret is left unread (deferred): no request of a signed-in user needs it,
# and decrypting it on every request was a measurable part of a partner page. Built once: building it and its
# cache key on every request cost ~200 Python calls of each partner page.
_PARTNER_USER_BY_ID = (select(PartnerUser).join(PartnerUser.partner)
                       .options(contains_eager(PartnerUser.partner).defer(Partner.idp_client_secret))
                       .where(PartnerUser.id == bindparam("id"), PartnerUser.active.is_(True),
                              Partner.active.is_(True)))


def _load_partner_user(user_id: int):
    user = db.session.scalar(_PARTNER_USER_BY_ID, {"id": user_id})
    if user is None or session.get("epoch") != user.session_epoch:
        return None
    return user


# Blueprints whose pages partner users work in: signed out there, a person goes to their
# organisation's sign-in page. Packages above this one add theirs with `partner_pages`.
PARTNER_BLUEPRINTS = {"partners"}
_home = {"endpoint": "main.home"}


def partner_pages(blueprint, *, home: str | None = None):
    """Mark `blueprint` as pages of partner users; `home` (an endpoint) is where they land after sign-in."""
    PARTNER_BLUEPRINTS.add(blueprint.name)
    if home:
        _home["endpoint"] = home
    return blueprint


def partner_home_url() -> str:
    return url_for(_home["endpoint"])


# Which tenant this browser last signed in to, so a signed-out partner user is sent to their own
# sign-in page, never to the staff login. Only the slug, which is in the sign-in URL anyway.
TENANT_COOKIE = "partner_tenant"
TENANT_COOKIE_DAYS = 400


def remember_tenant(response, tenant: str):
    response.set_cookie(TENANT_COOKIE, tenant, max_age=TENANT_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


def sign_in_target() -> str | None:
    """Where a signed-out partner user goes: their tenant's sign-in page when the tenant is known
    (the user who just timed out, or the cookie), else a neutral page. None for staff pages."""
    tenant = g.get("signed_out_tenant")
    if tenant is None and request.blueprint not in PARTNER_BLUEPRINTS:
        return None
    tenant = tenant or request.cookies.get(TENANT_COOKIE, "")
    # A deactivated partner's page says that its access is off, which tells its people more than the neutral page.
    if TENANT_PATTERN.fullmatch(tenant) and partner_by_tenant(tenant, include_deactivated=True) is not None:
        return url_for("partners.login", tenant=tenant, signed_out=1)
    return url_for("partners.where_to_sign_in")
