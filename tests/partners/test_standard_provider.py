"""Partner sign-in against a standard OpenID provider nobody on the team wrote: panva's oidc-provider
(OpenID Certified, from the npm registry, pinned by tests/oidc_provider/package-lock.json), started on
loopback with its default settings. Like many providers it puts `email` in the userinfo response only,
so the portal must ask userinfo before it can match an invitation. Driven through Chromium like a person.
"""

import logging
import os
import secrets
from urllib.parse import urljoin

import pytest

from portal.extensions import db
from tests.oidc_provider.runner import start_provider

CHROMIUM = "/usr/bin/chromium"
# real_clock: the provider is a Node process on the wall clock; its tokens would look expired or not yet
# valid to a test shifted by --now.
pytestmark = [pytest.mark.browser, pytest.mark.real_clock,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

CLIENT_ID = "care-portal"
# Each tenant's provider on its own loopback host, so the two providers' cookies never mix (as two
# organisations' providers on their own domains would not).
TENANTS = {
    "northside": {"host": "127.0.0.2", "accounts": {
        "alice": {"email": "alice@northside.example", "email_verified": True, "name": "Alice Admin"},
        "sam": {"email": "sam@northside.example", "email_verified": True, "name": "Sam Scheduler"},
        "nina": {"email": "nina@northside.example", "email_verified": True, "name": "Nina Notinvited"},
        "ursula": {"email": "ursula@northside.example", "email_verified": False, "name": "Ursula Unverified"},
    }},
    "harbour": {"host": "127.0.0.3", "accounts": {
        "hana": {"email": "hana@harbour.example", "email_verified": True, "name": "Hana Admin"},
    }},
}
INVITED = {"northside": {"alice": "partner_admin", "sam": "scheduler", "ursula": "viewer"},
           "harbour": {"hana": "partner_admin"}}


def _tenant_spec(name, host, accounts, secret, portal_urls):
    return {"name": name, "host": host, "accounts": accounts, "clients": [{
        "client_id": CLIENT_ID, "client_secret": secret,
        "redirect_uris": [f"{url}/p/{name}/callback" for url in portal_urls]}]}


@pytest.fixture(scope="module")
def standard_idp(live_server, tmp_path_factory):
    """Both tenants' providers in one Node process; {tenant: (issuer, client secret)}."""
    secrets_by_tenant = {name: secrets.token_urlsafe(32) for name in TENANTS}
    provider = start_provider(
        [_tenant_spec(name, t["host"], t["accounts"], secrets_by_tenant[name], [live_server]) for name, t in
         TENANTS.items()], tmp_path_factory.mktemp("oidc"))
    yield {name: (provider.issuers[name], secrets_by_tenant[name]) for name in TENANTS}
    provider.stop()


def _make_partner(app, tenant, issuer, secret, invited):
    from portal.partners import services, settings

    with app.app_context():
        partner = settings.create_partner(name=f"{tenant.title()} Care", tenant=tenant, idp_issuer=issuer,
                                          idp_client_id=CLIENT_ID, idp_client_secret=secret)
        users = {login: services.invite_user(partner.id, email=TENANTS.get(tenant, {}).get("accounts", {})
                                             .get(login, {}).get("email", f"{login}@{tenant}.example"),
                                             role=role).id
                 for login, role in invited.items()}
        db.session.remove()
        return users


@pytest.fixture
def standard_partners(app, standard_idp):
    return {tenant: _make_partner(app, tenant, *standard_idp[tenant], INVITED[tenant]) for tenant in TENANTS}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(10000)
    page = context.new_page()
    yield page
    context.close()


def _sign_in_at_provider(page, login):
    """What the person does on the provider's own (default) pages: log in, then consent."""
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def _catch_callback(page, tenant, issuer):
    """Hold the provider's redirect back to the portal and give its URL, as an attacker holding it would.

    Playwright routes a request the browser makes, not the redirects it follows, so the provider's
    redirects after each form post are followed here (with the browser's cookies) and the page they
    end on is handed to the browser, all but the redirect to the portal's callback."""
    caught = []

    def pass_on_all_but_the_callback(route):
        response = route.fetch(max_redirects=0)
        while 300 <= response.status < 400:
            location = urljoin(response.url, response.headers["location"])
            if f"/p/{tenant}/callback" in location:
                caught.append(location)
                route.fulfill(status=200, content_type="text/plain", body="held")
                return
            response = page.context.request.get(location, max_redirects=0)
        route.fulfill(response=response)

    page.route(f"{issuer}/**", pass_on_all_but_the_callback)
    page.goto(f"/p/{tenant}/login")
    _sign_in_at_provider(page, "sam")
    page.get_by_text("held").wait_for()
    page.unroute(f"{issuer}/**")
    assert len(caught) == 1
    return caught[0]


def _not_signed_in(page):
    page.goto("/partner/care-requests")
    assert "/partner/care-requests" not in page.url


def test_invited_user_signs_in_through_the_standard_provider_and_lands_on_care_requests(
        app, page, standard_idp, standard_partners):
    from portal.partners.models import PartnerUser

    page.goto("/p/northside/login")
    assert page.url.startswith(standard_idp["northside"][0])
    _sign_in_at_provider(page, "sam")
    page.get_by_role("heading", name="Care requests").wait_for()
    assert page.url.endswith("/partner/care-requests")
    with app.app_context():
        user = db.session.get(PartnerUser, standard_partners["northside"]["sam"])
        assert (user.idp_issuer, user.idp_subject) == (standard_idp["northside"][0], "sam")


def test_provider_user_who_was_never_invited_gets_the_clear_refusal_and_the_log_says_why(
        page, standard_partners, caplog):
    caplog.set_level(logging.WARNING, logger="portal.partners.services")
    page.goto("/p/northside/login")
    _sign_in_at_provider(page, "nina")
    page.get_by_text("This account has no access to the portal for this organisation.").wait_for()
    assert "reason=not_invited" in caplog.text and "tenant=northside" in caplog.text
    assert "nina" not in caplog.text.lower()
    _not_signed_in(page)


def test_an_unverified_email_does_not_link_an_invitation(page, standard_partners, caplog):
    caplog.set_level(logging.WARNING, logger="portal.partners.services")
    page.goto("/p/northside/login")
    _sign_in_at_provider(page, "ursula")
    page.get_by_text("This account has no access").wait_for()
    assert "reason=no_verified_email" in caplog.text and "ursula" not in caplog.text.lower()


def test_a_tampered_state_is_refused(page, standard_idp, standard_partners):
    callback = _catch_callback(page, "northside", standard_idp["northside"][0])
    assert "state=" in callback
    response = page.goto(callback.replace("state=", "state=tampered"))
    assert response.status == 400
    page.get_by_text("The sign-in could not be checked. Please start again.").wait_for()
    _not_signed_in(page)


def test_one_tenants_callback_replayed_into_another_tenants_path_is_refused(page, standard_idp, standard_partners):
    callback = _catch_callback(page, "northside", standard_idp["northside"][0])
    response = page.goto(callback.replace("/p/northside/callback", "/p/harbour/callback"))
    assert response.status == 400
    page.get_by_text("The sign-in could not be checked").wait_for()
    _not_signed_in(page)
    # The genuine callback still works once: the replay consumed nothing of northside's sign-in.
    page.goto(callback)
    page.get_by_role("heading", name="Care requests").wait_for()


def test_when_the_provider_is_down_the_portal_says_so_on_its_own_page(app, page, live_server, tmp_path):
    secret = secrets.token_urlsafe(32)
    accounts = {"sam": {"email": "sam@lakeside.example", "email_verified": True, "name": "Sam"}}
    provider = start_provider([_tenant_spec("lakeside", "127.0.0.4", accounts, secret, [live_server])], tmp_path)
    try:
        issuer = provider.issuers["lakeside"]
        _make_partner(app, "lakeside", issuer, secret, {"sam": "scheduler"})
        page.goto("/p/lakeside/login")
        _sign_in_at_provider(page, "sam")
        page.get_by_role("heading", name="Care requests").wait_for()
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("link", name="Sign in with Lakeside Care").wait_for()
    finally:
        provider.stop()
    page.get_by_role("link", name="Sign in with Lakeside Care").click()
    page.get_by_text("Your organisation's sign-in service did not answer. Try again in a minute.").wait_for()
    assert page.url.startswith(live_server), page.url
    assert not page.url.startswith(issuer)
