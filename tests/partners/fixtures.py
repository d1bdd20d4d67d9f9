"""Partner fixtures: the sandbox identity provider on loopback, two partners (tenants) with users
of every role, and test clients signed in through the real OIDC flow."""

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from portal.extensions import db
from tests.conftest import serve_on_loopback

ROLES = ("partner_admin", "scheduler", "viewer")
TENANTS = ("northside", "harbour")


@pytest.fixture(scope="session")
def idp():
    """The sandbox (with its OIDC provider) served on loopback; returns its base URL."""
    from portal.sandbox import create_app as create_sandbox

    sandbox_app = create_sandbox()
    with serve_on_loopback(sandbox_app) as url:
        yield url


def demo_users(tenant):
    from portal.sandbox.oidc import DEMO_TENANTS

    return DEMO_TENANTS[tenant]["users"]


@pytest.fixture
def partners(app, idp):
    """Two partners, each with one invited user per role (the sandbox's demo users, in order), one
    patient and one care request. Returns {tenant: {"id", "users": {role: id}, "patient_id", "care_request_id"}}."""
    from portal.care_requests.models import CareRequest, CareRequestUser, PartnerPatient
    from portal.partners import services, settings
    from portal.patients.models import Patient
    from portal.sandbox.oidc import CLIENT_ID, client_secret_for

    made = {}
    with app.app_context():
        for tenant in TENANTS:
            partner = settings.create_partner(
                name=tenant.title(), tenant=tenant, idp_issuer=f"{idp}/idp/{tenant}", idp_client_id=CLIENT_ID,
                idp_client_secret=client_secret_for(tenant))
            users = {}
            for role, demo in zip(ROLES, demo_users(tenant)):
                users[role] = services.invite_user(partner.id, email=demo["email"], role=role).id
            patient = Patient(first_name="Pat", last_name=f"{tenant.title()}son", birth_date=date(1960, 3, 4),
                              phone="+447700900123")
            db.session.add(patient)
            db.session.flush()
            db.session.add(PartnerPatient(partner_id=partner.id, patient_id=patient.id))
            care_request = CareRequest(partner_id=partner.id, patient_id=patient.id, status="triage",
                                       reason="Fell in the garden", answers="{}", callback_phone="+447700900123",
                                       created_by_id=users["partner_admin"])
            db.session.add(care_request)
            db.session.flush()
            db.session.add(CareRequestUser(care_request_id=care_request.id, partner_id=partner.id,
                                           partner_user_id=users["partner_admin"]))
            db.session.commit()
            made[tenant] = {"id": partner.id, "users": users, "patient_id": patient.id,
                            "care_request_id": care_request.id}
        db.session.remove()
    return made


def start_sign_in(client, tenant):
    """GET /p/<tenant>/login; returns the provider's authorization URL it redirects to."""
    response = client.get(f"/p/{tenant}/login")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def choose_demo_user(authorize_url, sub):
    """What the person does at the provider: pick a demo user. Returns the portal callback URL."""
    parts = urlsplit(authorize_url)
    form = {name: values[0] for name, values in parse_qs(parts.query).items()}
    answer = requests.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=dict(form, sub=sub),
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def finish_sign_in(client, callback_url):
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def sign_in_partner(app, tenant, role):
    """A test client signed in through the sandbox provider as the tenant's user of that role."""
    from tests.conftest import csrf_token_from

    client = app.test_client()
    sub = demo_users(tenant)[ROLES.index(role)]["sub"]
    response = finish_sign_in(client, choose_demo_user(start_sign_in(client, tenant), sub))
    assert response.status_code == 302, response.get_data(as_text=True)
    client.csrf = csrf_token_from(client.get("/partner/profile").get_data(as_text=True))
    return client


@pytest.fixture
def partner_client(app, partners):
    """`partner_client("northside", "scheduler")` → a signed-in test client with `.csrf`."""

    def make(tenant="northside", role="scheduler"):
        return sign_in_partner(app, tenant, role)

    return make


def query_of(url):
    return parse_qs(urlsplit(url).query)
