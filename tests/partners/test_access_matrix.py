"""Every partner route, for every partner role, against the other partner's objects: 404, never a leak."""

import pytest

from tests.partners.fixtures import ROLES

# (method, url template, form) — {care_request}, {patient}, {user} are the *other* partner's ids.
FOREIGN_OBJECT_ROUTES = [
    ("GET", "/partner/care-requests/{care_request}", None),
    ("POST", "/partner/patients/{patient}/schedule", {}),
    ("POST", "/partner/users/{user}/role", {"role": "viewer"}),
    ("POST", "/partner/users/{user}/deactivate", {}),
    # The staff admins' settings screen: no partner role reaches it (403), least of all another partner's.
    ("GET", "/admin/partners/{partner}", None),
    ("POST", "/admin/partners/{partner}", {"name": "Taken", "tenant": "taken", "idp_issuer": "https://x.example",
                                           "idp_client_id": "x", "idp_client_secret": "x"}),
]

OWN_ROUTES = [
    ("GET", "/partner/care-requests"),
    ("GET", "/partner/care-requests?tab=past"),
    ("GET", "/partner/care-requests/new"),
    ("GET", "/partner/users"),
    ("GET", "/partner/profile"),
    ("GET", "/partner/care-requests/poll?since=-1"),
    ("GET", "/admin/partners"),
]

ALLOWED = {
    "/partner/care-requests": set(ROLES),
    "/partner/care-requests?tab=past": set(ROLES),
    "/partner/profile": set(ROLES),
    "/partner/care-requests/new": {"partner_admin", "scheduler"},
    "/partner/users": {"partner_admin"},
    "/partner/care-requests/poll?since=-1": set(ROLES),
    "/admin/partners": set(),
}


def _call(client, method, url, form):
    if method == "GET":
        return client.get(url)
    return client.post(url, data=dict(form or {}, csrf_token=client.csrf))


@pytest.mark.parametrize("role", ROLES)
def test_other_partners_objects_are_404_for_every_role(app, partners, partner_client, role):
    client = partner_client("northside", role)
    other = partners["harbour"]
    ids = {"care_request": other["care_request_id"], "patient": other["patient_id"],
           "user": other["users"]["scheduler"], "partner": other["id"]}
    for method, template, form in FOREIGN_OBJECT_ROUTES:
        url = template.format(**ids)
        response = _call(client, method, url, form)
        allowed_role = response.status_code != 403
        if allowed_role:
            assert response.status_code == 404, (role, method, url, response.status_code)
        body = response.get_data(as_text=True)
        assert "Harbourson" not in body and "harbour.example" not in body
        if template.startswith("/admin/"):
            assert response.status_code == 403, (role, method, url)


@pytest.mark.parametrize("role", ROLES)
def test_own_pages_show_only_own_partner_data(app, partners, partner_client, role):
    client = partner_client("northside", role)
    for _method, url in OWN_ROUTES:
        response = client.get(url)
        expected = 200 if role in ALLOWED[url] else 403
        assert response.status_code == expected, (role, url)
        body = response.get_data(as_text=True)
        assert "Harbourson" not in body and "harbour.example" not in body


def test_own_care_request_detail_is_visible_to_every_role(app, partners, partner_client):
    for role in ROLES:
        client = partner_client("northside", role)
        response = client.get(f"/partner/care-requests/{partners['northside']['care_request_id']}")
        assert response.status_code == 200
        assert "Northsideson" in response.get_data(as_text=True)


def test_search_never_finds_the_other_partners_patients(app, partners, partner_client):
    client = partner_client("northside", "scheduler")
    response = client.post("/partner/patients/search", data={"q": "Harbourson", "csrf_token": client.csrf})
    assert "No patient matches" in response.get_data(as_text=True)
    assert "born 1960" not in response.get_data(as_text=True)
    response = client.post("/partner/patients/search", data={"q": "Pat", "csrf_token": client.csrf})
    assert "Northsideson" in response.get_data(as_text=True)


def test_handoff_of_another_partners_patient_cannot_be_issued(app, partners, partner_client):
    client = partner_client("northside", "partner_admin")
    response = client.post(f"/partner/patients/{partners['harbour']['patient_id']}/schedule",
                           data={"csrf_token": client.csrf})
    assert response.status_code == 404


@pytest.mark.parametrize("url", ["/partner/care-requests", "/partner/care-requests/1", "/partner/users",
                                 "/partner/profile", "/partner/care-requests/new", "/schedule", "/schedule/abc",
                                 "/partner/care-requests/poll?since=0"])
def test_signed_out_people_are_sent_to_sign_in(client, partners, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == "/partner/sign-in"  # never the staff login form


def test_staff_cannot_use_partner_pages(app, partners, staff_client):
    admin = staff_client("admin")
    for url in ("/partner/care-requests", f"/partner/care-requests/{partners['northside']['care_request_id']}",
                "/partner/users", "/partner/profile"):
        assert admin.get(url).status_code == 403, url


def test_partner_forms_without_csrf_token_are_refused(app, partners, partner_client):
    client = partner_client("northside", "partner_admin")
    user_id = partners["northside"]["users"]["viewer"]
    assert client.post(f"/partner/users/{user_id}/deactivate").status_code == 400
    assert client.post("/partner/patients/search", data={"q": "Pat"}).status_code == 400


def test_huge_ids_are_404_not_500(app, partners, partner_client):
    client = partner_client("northside", "partner_admin")
    assert client.get("/partner/care-requests/99999999999").status_code == 404
    assert client.post("/partner/users/99999999999/deactivate", data={"csrf_token": client.csrf}).status_code == 404
