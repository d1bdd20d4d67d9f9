"""Demo partners for `make run`: the sandbox provider's two tenants, their invited demo users and
a few patients each. Idempotent."""

from datetime import date

from flask import current_app

from portal.extensions import db
from portal.partners import services
from portal.partners.models import PARTNER_ROLES, PartnerPatient
from portal.patients.models import Patient
from portal.sandbox.oidc import CLIENT_ID, DEMO_TENANTS, client_secret_for

DEMO_PATIENTS = [("Ada", "Lovelace", date(1940, 12, 10), "+447700900001"),
                 ("Alan", "Turing", date(1952, 6, 23), "+447700900002")]


def load_demo_partners() -> list[str]:
    lines = ["Partners (sign in at /p/<tenant>/login, pick a demo user at the sandbox provider):"]
    sandbox = current_app.config["SANDBOX_URL"]
    for tenant, spec in DEMO_TENANTS.items():
        partner = services.partner_by_tenant(tenant)
        if partner is None:
            partner = services.create_partner(name=spec["name"], tenant=tenant,
                                              idp_issuer=f"{sandbox}/idp/{tenant}", idp_client_id=CLIENT_ID,
                                              idp_client_secret=client_secret_for(tenant),
                                              eligibility_rules={"triage_symptoms": ["chest pain", "breathless"],
                                                                 "triage_min_age": 90})
            for role, user in zip(PARTNER_ROLES, spec["users"]):
                services.invite_user(partner.id, email=user["email"], role=role, name=user["name"])
            for first, last, born, phone in DEMO_PATIENTS:
                patient = Patient(first_name=first, last_name=f"{last} ({spec['name'].split()[0]})",
                                  birth_date=born, phone=phone)
                db.session.add(patient)
                db.session.flush()
                db.session.add(PartnerPatient(partner_id=partner.id, patient_id=patient.id))
            db.session.commit()
        lines.append(f"  {tenant:<10} /p/{tenant}/login")
    return lines
