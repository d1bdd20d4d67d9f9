"""A signed-out partner user lands on their organisation's sign-in page (or a neutral page that
says where to sign in), never on the clinic staff's login form."""

import time

import pytest

from tests.partners.fixtures import sign_in_partner

TENANT_PAGE = "/p/northside/login?signed_out=1"


def _is_staff_login(response):
    return response.headers.get("Location", "").startswith("/login") or 'name="password"' in response.get_data(
        as_text=True)


def _time_out(client, app):
    idle = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    with client.session_transaction() as session:
        session["last_active"] = time.time() - idle - 5


def test_sign_out_lands_on_the_tenants_sign_in_page_without_signing_in_again(app, partners):
    client = sign_in_partner(app, "northside", "scheduler")
    response = client.post("/partner/logout", data={"csrf_token": client.csrf})
    assert response.headers["Location"] == TENANT_PAGE
    page = client.get(TENANT_PAGE)
    body = page.get_data(as_text=True)
    # A page with a button, not a redirect to the provider (which could sign them straight back in).
    assert page.status_code == 200 and "You are signed out." in body
    assert 'href="/p/northside/login"' in body and not _is_staff_login(page)
    assert client.get("/partner/care-requests").status_code == 302


def test_idle_timeout_sends_a_partner_user_to_their_tenant_even_without_the_cookie(app, partners):
    client = sign_in_partner(app, "harbour", "scheduler")
    client.delete_cookie("partner_tenant")
    _time_out(client, app)
    response = client.get("/partner/care-requests")
    assert response.headers["Location"] == "/p/harbour/login?signed_out=1"
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out after a period of inactivity" in body and "Sign in with Harbour" in body


def test_idle_timeout_on_a_background_poll_tells_htmx_to_go_to_the_tenant_page(app, partners):
    client = sign_in_partner(app, "northside", "viewer")
    _time_out(client, app)
    response = client.get("/partner/care-requests/poll?since=0", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == TENANT_PAGE


@pytest.mark.parametrize("url", ["/partner/care-requests", "/partner/care-requests/1", "/partner/users",
                                 "/partner/profile", "/partner/care-requests/new", "/schedule", "/schedule/abc"])
def test_opening_a_partner_page_signed_out_uses_the_tenant_remembered_at_sign_in(app, partners, url):
    client = sign_in_partner(app, "northside", "viewer")
    client.post("/partner/logout", data={"csrf_token": client.csrf})
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"] == TENANT_PAGE


def test_a_browser_that_never_signed_in_gets_a_neutral_page_not_the_staff_form(client, partners):
    response = client.get("/partner/care-requests")
    assert response.headers["Location"] == "/partner/sign-in"
    page = client.get("/partner/sign-in")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<code>/p/your-organisation/login</code>" in body
    assert not _is_staff_login(page)


def test_a_remembered_tenant_that_no_longer_exists_gets_the_neutral_page(client, partners):
    for value in ("gone", "../../login", "Northside"):
        client.set_cookie("partner_tenant", value)
        assert client.get("/partner/profile").headers["Location"] == "/partner/sign-in", value


def test_staff_pages_still_send_signed_out_people_to_the_staff_login(client, partners):
    client.set_cookie("partner_tenant", "northside")
    assert client.get("/queue").headers["Location"].startswith("/login")


def test_the_tenant_page_of_an_unknown_tenant_is_404(client, partners):
    assert client.get("/p/nowhere/login?signed_out=1").status_code == 404
