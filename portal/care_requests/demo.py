"""Demo patients of the demo partners for `make run`: a few each, so partner staff have someone to
search for. Idempotent: a partner that knows a patient already gets none."""

from datetime import date

from sqlalchemy import select

from portal.care_requests.models import PartnerPatient
from portal.extensions import db
from portal.partners.models import Partner
from portal.patients.models import Patient
from portal.sandbox.oidc import DEMO_TENANTS

DEMO_PATIENTS = [("Ada", "Lovelace", date(1940, 12, 10), "+447700900001"),
                 ("Alan", "Turing", date(1952, 6, 23), "+447700900002")]


def load_demo_partner_patients() -> list[str]:
    added = 0
    for partner in db.session.scalars(select(Partner).where(Partner.tenant.in_(list(DEMO_TENANTS)))):
        if db.session.scalar(select(PartnerPatient.id).where(PartnerPatient.partner_id == partner.id).limit(1)):
            continue
        for first, last, born, phone in DEMO_PATIENTS:
            patient = Patient(first_name=first, last_name=f"{last} ({partner.name.split()[0]})",
                              birth_date=born, phone=phone)
            db.session.add(patient)
            db.session.flush()
            db.session.add(PartnerPatient(partner_id=partner.id, patient_id=patient.id))
            added += 1
    db.session.commit()
    return [f"Partner patients added: {added}"] if added else []
