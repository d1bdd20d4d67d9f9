"""Fixtures for booking at another service: the sandbox plays the service directory, endpoint
directory and demographics service; the remote provider is this portal's own FHIR API."""

import re
from datetime import datetime

import pytest

from portal.care_requests.models import CareRequest
from portal.extensions import db
from portal.fhir.oauth import SCOPES, ensure_api_client
from portal.partners.models import Partner, PartnerUser
from portal.patients.services import fetch_or_create_patient_by_nhs_number
from portal.referrals.models import Referral
from portal.scheduling import services
from tests.conftest import VALID_NHS_NUMBER, serve_on_loopback


@pytest.fixture(scope="session")
def sandbox(live_server):
    from portal.sandbox import create_app as create_sandbox

    sandbox_app = create_sandbox()
    sandbox_app.config.update(PORTAL_URL=live_server, SANDBOX_SLOW_SECONDS=2)
    with serve_on_loopback(sandbox_app) as url:
        yield sandbox_app, url


@pytest.fixture
def chain(app, sandbox, monkeypatch):
    sandbox_app, url = sandbox
    sandbox_app.config["FAILURE_MODES"] = {}
    for name, path in (("DOS_URL", "dos"), ("SDS_URL", "sds"), ("PDS_URL", "pds")):
        monkeypatch.setitem(app.config, name, f"{url}/{path}")
    monkeypatch.setitem(app.config, "BOOKING_CLIENT_SECRET", "loopback-secret-for-tests")
    with app.app_context():
        ensure_api_client(client_id=app.config["BOOKING_CLIENT_ID"], secret="loopback-secret-for-tests",
                          name="loopback", scopes=list(SCOPES))
    return sandbox_app


@pytest.fixture
def this_week(app, diary_set_up):
    """Slots from today for a week, so the consumer's 'next seven days' finds them."""
    from datetime import date, timedelta

    with app.app_context():
        services.generate_slots(diary_set_up["schedule_id"], date.today(), date.today() + timedelta(days=6))
    return diary_set_up


def form(c, url, data):
    return c.post(url, data={"csrf_token": c.csrf, **data})


def first_offer(html: str) -> dict:
    fields = dict(re.findall(r'<input type="hidden" name="(slot_id|start|end)" value="([^"]+)"', html)[:3])
    assert set(fields) == {"slot_id", "start", "end"}
    return fields


# --- what a booking elsewhere is made for: a referral or a triage request of an NHS patient -------

def nhs_patient(app) -> int:
    with app.app_context():
        patient = fetch_or_create_patient_by_nhs_number(nhs_number=VALID_NHS_NUMBER, first_name="Amy",
                                                        last_name="Able")
        db.session.commit()
        return patient.id


def make_referral(app, patient_id: int) -> int:
    with app.app_context():
        referral = Referral(journal_guid=f"guid-{patient_id}", patient_id=patient_id, format_id="test",
                            message_timestamp=datetime(2026, 1, 1), payload="{}", payload_fingerprint="f" * 64)
        db.session.add(referral)
        db.session.commit()
        return referral.id


def make_triage_request(app, patient_id: int) -> int:
    with app.app_context():
        partner = Partner(name="Northside", tenant="northside-test", idp_issuer="https://idp.example",
                          idp_client_id="x")
        db.session.add(partner)
        db.session.flush()
        user = PartnerUser(partner_id=partner.id, email="p@example.com", role="scheduler",
                           notification_email="alerts@northside.example")
        db.session.add(user)
        db.session.flush()
        request = CareRequest(partner_id=partner.id, patient_id=patient_id, status="triage", created_by_id=user.id,
                              triage_reason="No free slot")
        db.session.add(request)
        db.session.commit()
        return request.id
