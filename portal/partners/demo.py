"""Demo partners for `make run`: the sandbox provider's two tenants and their invited demo users.
Idempotent. Their patients come with the care requests' demo data."""

from flask import current_app

from portal.partners import services, settings
from portal.partners.models import PARTNER_ROLES
from portal.sandbox.oidc import CLIENT_ID, DEMO_TENANTS, client_secret_for


def load_demo_partners() -> list[str]:
    lines = ["Partners (sign in at /p/<tenant>/login, pick a demo user at the sandbox provider):"]
    sandbox = current_app.config["SANDBOX_URL"]
    for tenant, spec in DEMO_TENANTS.items():
        partner = services.partner_by_tenant(tenant)
        if partner is None:
            partner = settings.create_partner(name=spec["name"], tenant=tenant,
                                              idp_issuer=f"{sandbox}/idp/{tenant}", idp_client_id=CLIENT_ID,
                                              idp_client_secret=client_secret_for(tenant),
                                              eligibility_rules={"triage_symptoms": ["chest pain", "breathless"],
                                                                 "triage_min_age": 90})
            for role, user in zip(PARTNER_ROLES, spec["users"]):
                services.invite_user(partner.id, email=user["email"], role=role, name=user["name"])
        lines.append(f"  {tenant:<10} /p/{tenant}/login")
    return lines
