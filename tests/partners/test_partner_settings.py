"""Staff admins list, add and edit partner organisations: tenant, identity provider (the secret is
write-only), self-scheduling and eligibility rules; every change audited and in effect at once."""

import re

import pytest
from sqlalchemy import select

from portal.extensions import db

GOOD = {"name": "Bay Care", "tenant": "bay-care", "idp_issuer": "https://login.bay.example/", "idp_client_id": "portal",
        "idp_client_secret": "bay-s3cret-value", "self_scheduling": "y",
        "triage_symptoms": "Chest pain\nfall\n\nchest pain",
        "triage_min_age": "80", "triage_max_age": "1"}


@pytest.fixture
def admin(staff_client):
    return staff_client("admin")


def _partner(app, tenant):
    from portal.partners.models import Partner

    with app.app_context():
        partner = db.session.scalar(select(Partner).where(Partner.tenant == tenant))
        db.session.expunge_all()
        return partner


def test_admin_adds_a_partner_with_rules_from_the_form(app, admin):
    response = admin.post("/admin/partners/new", data=dict(GOOD, csrf_token=admin.csrf))
    assert response.status_code == 302
    partner = _partner(app, "bay-care")
    assert partner.name == "Bay Care" and partner.self_scheduling is True
    assert partner.idp_client_secret == "bay-s3cret-value"
    assert partner.eligibility_rules == {"triage_symptoms": ["chest pain", "fall"], "triage_min_age": 80,
                                         "triage_max_age": 1}
    listing = admin.get("/admin/partners").get_data(as_text=True)
    assert "Bay Care" in listing and "/p/bay-care/login" in listing and "chest pain, fall" in listing
    assert "bay-s3cret-value" not in listing


def test_the_client_secret_is_never_shown_and_is_stored_encrypted(app, admin):
    admin.post("/admin/partners/new", data=dict(GOOD, csrf_token=admin.csrf))
    partner = _partner(app, "bay-care")
    page = admin.get(f"/admin/partners/{partner.id}").get_data(as_text=True)
    assert "bay-s3cret-value" not in page
    secret_input = re.search(r'<input[^>]*name="idp_client_secret"[^>]*>', page).group(0)
    assert 'type="password"' in secret_input and re.search(r'value="[^"]', secret_input) is None
    # Nor echoed back when the form comes back with an error.
    refused = admin.post(f"/admin/partners/{partner.id}", data=dict(GOOD, tenant="Bad Slug", csrf_token=admin.csrf,
                                                                    idp_client_secret="typed-new-secret"))
    assert refused.status_code == 422 and "typed-new-secret" not in refused.get_data(as_text=True)
    with app.app_context():
        raw = db.session.connection().exec_driver_sql(
            "SELECT idp_client_secret FROM partners WHERE tenant = 'bay-care'").scalar()
        assert "bay-s3cret-value" not in raw


def test_an_empty_secret_keeps_the_stored_one_and_a_new_one_replaces_it(app, admin):
    admin.post("/admin/partners/new", data=dict(GOOD, csrf_token=admin.csrf))
    partner_id = _partner(app, "bay-care").id
    edit = dict(GOOD, idp_client_secret="", name="Bay Care North", csrf_token=admin.csrf)
    assert admin.post(f"/admin/partners/{partner_id}", data=edit).status_code == 302
    assert _partner(app, "bay-care").idp_client_secret == "bay-s3cret-value"
    assert _partner(app, "bay-care").name == "Bay Care North"
    edit["idp_client_secret"] = "rotated-secret"
    assert admin.post(f"/admin/partners/{partner_id}", data=edit).status_code == 302
    assert _partner(app, "bay-care").idp_client_secret == "rotated-secret"


def test_unticking_self_scheduling_turns_it_off(app, admin):
    admin.post("/admin/partners/new", data=dict(GOOD, csrf_token=admin.csrf))
    partner_id = _partner(app, "bay-care").id
    data = {k: v for k, v in GOOD.items() if k != "self_scheduling"}
    assert admin.post(f"/admin/partners/{partner_id}", data=dict(data, csrf_token=admin.csrf)).status_code == 302
    assert _partner(app, "bay-care").self_scheduling is False


@pytest.mark.parametrize("change, field, message", [
    ({"tenant": "Bay Care"}, "tenant", "lower-case letters"),
    ({"tenant": "-bay"}, "tenant", "lower-case letters"),
    ({"tenant": "b" * 65}, "tenant", "64"),
    ({"idp_issuer": "not a url"}, "idp_issuer", "issuer URL"),
    ({"idp_issuer": "http://login.bay.example/"}, "idp_issuer", "https://"),
    ({"idp_issuer": "https://login.bay.example/?a=1"}, "idp_issuer", "issuer URL"),
    ({"idp_client_secret": ""}, "idp_client_secret", "client secret"),
    ({"name": ""}, "name", "required"),
    ({"triage_min_age": "old"}, "triage_min_age", "integer"),
    ({"triage_min_age": "200"}, "triage_min_age", "from 0 to 130"),
    ({"triage_max_age": "-1"}, "triage_max_age", "from 0 to 130"),
    ({"triage_min_age": "5", "triage_max_age": "10"}, "triage_max_age", "every patient"),
    ({"triage_symptoms": "x" * 101}, "triage_symptoms", "under 100"),
    ({"triage_symptoms": "\n".join(f"s{i}" for i in range(51))}, "triage_symptoms", "at most 50"),
])
def test_bad_settings_are_form_errors_and_nothing_is_saved(app, admin, change, field, message):
    response = admin.post("/admin/partners/new", data=dict(GOOD, csrf_token=admin.csrf, **change))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', body)
    assert error and message.lower() in error.group(1).lower(), body[body.find('class="error"') - 200:][:600]
    from portal.partners.models import Partner

    with app.app_context():
        assert db.session.scalar(select(Partner).where(Partner.name == GOOD["name"])) is None


def test_a_tenant_slug_taken_by_another_partner_is_refused(app, admin, partners):
    response = admin.post("/admin/partners/new", data=dict(GOOD, tenant="northside", csrf_token=admin.csrf))
    assert response.status_code == 422
    assert "Another partner has this tenant slug." in response.get_data(as_text=True)
    harbour_id = partners["harbour"]["id"]
    edit = admin.post(f"/admin/partners/{harbour_id}", data=dict(GOOD, tenant="northside", csrf_token=admin.csrf))
    assert edit.status_code == 422
    assert _partner(app, "harbour").name == "Harbour"  # nothing half-saved


def test_a_partner_with_malformed_rules_from_an_old_command_opens_in_the_form(app, admin, partners):
    from portal.partners.models import Partner

    with app.app_context():
        db.session.get(Partner, partners["northside"]["id"]).eligibility_rules = {
            "triage_min_age": "old", "triage_symptoms": [None, "fever"]}
        db.session.commit()
    page = admin.get(f"/admin/partners/{partners['northside']['id']}")
    assert page.status_code == 200 and "fever" in page.get_data(as_text=True)
    assert admin.get("/admin/partners").status_code == 200


def test_changed_provider_settings_take_effect_at_once(app, admin, partners, client, idp):
    from portal.sandbox.oidc import CLIENT_ID, client_secret_for

    northside = partners["northside"]["id"]
    assert "/idp/northside/" in client.get("/p/northside/login").headers["Location"]
    moved = {"name": "Northside", "tenant": "northside", "idp_issuer": f"{idp}/idp/harbour",
             "idp_client_id": CLIENT_ID, "idp_client_secret": client_secret_for("harbour"), "self_scheduling": "y",
             "csrf_token": admin.csrf}
    assert admin.post(f"/admin/partners/{northside}", data=moved).status_code == 302
    assert "/idp/harbour/" in client.get("/p/northside/login").headers["Location"]


def test_a_new_issuer_relinks_users_by_e_mail_at_their_next_sign_in(app, admin, partners, idp):
    from portal.partners.models import PartnerUser
    from portal.sandbox.oidc import CLIENT_ID
    from tests.partners.fixtures import sign_in_partner

    scheduler = partners["northside"]["users"]["scheduler"]
    sign_in_partner(app, "northside", "scheduler")  # links the scheduler to northside's provider
    northside = partners["northside"]["id"]
    data = {"name": "Northside", "tenant": "northside", "idp_client_id": CLIENT_ID, "csrf_token": admin.csrf}
    assert admin.post(f"/admin/partners/{northside}", data=dict(data, idp_issuer=f"{idp}/idp/harbour")).status_code \
        == 302
    with app.app_context():
        user = db.session.get(PartnerUser, scheduler)
        assert user.idp_subject is None and user.idp_issuer is None
    # Back at the first provider: the same person is linked again by their invited e-mail.
    admin.post(f"/admin/partners/{northside}", data=dict(data, idp_issuer=f"{idp}/idp/northside"))
    client = sign_in_partner(app, "northside", "scheduler")
    assert client.get("/partner/care-requests").status_code == 200
    with app.app_context():
        assert db.session.get(PartnerUser, scheduler).idp_subject is not None


def test_every_settings_change_is_audited_without_the_secret(app, admin):
    from portal.security.models import AuditEvent

    admin.post("/admin/partners/new", data=dict(GOOD, csrf_token=admin.csrf))
    partner_id = _partner(app, "bay-care").id
    admin.post(f"/admin/partners/{partner_id}", data=dict(GOOD, idp_client_secret="", triage_min_age="85",
                                                           csrf_token=admin.csrf))
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("partner.%"))
                                    .order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == ["partner.create", "partner.settings"]
        assert events[1].details["changed"] == ["eligibility_rules"]
        assert events[0].actor_type == "staff"
        assert all("s3cret" not in str(e.details) for e in events)


def test_only_staff_admins_reach_the_settings_screen(app, partners, staff_client, partner_client):
    northside = partners["northside"]["id"]
    for role in ("secretary", "doctor"):
        client = staff_client(role)
        for url in ("/admin/partners", "/admin/partners/new", f"/admin/partners/{northside}"):
            assert client.get(url).status_code == 403, (role, url)
    partner_admin = partner_client("northside", "partner_admin")
    for url in ("/admin/partners", "/admin/partners/new", f"/admin/partners/{northside}"):
        assert partner_admin.get(url).status_code == 403, url
    assert partner_admin.post(f"/admin/partners/{northside}",
                              data=dict(GOOD, csrf_token=partner_admin.csrf)).status_code == 403
    assert _partner(app, "northside").name == "Northside"


def test_unknown_and_huge_partner_ids_are_404(app, admin):
    assert admin.get("/admin/partners/999999").status_code == 404
    assert admin.get("/admin/partners/99999999999").status_code == 404


def test_settings_form_without_csrf_token_is_refused(app, admin):
    refused = admin.post("/admin/partners/new", data=GOOD)
    assert refused.status_code == 400 and "The form had expired" in refused.get_data(as_text=True)
    assert _partner(app, "bay-care") is None


def test_a_partner_admin_sees_their_own_settings_read_only(app, partners, partner_client):
    from portal.partners.models import Partner

    with app.app_context():
        partner = db.session.get(Partner, partners["northside"]["id"])
        partner.self_scheduling = False
        partner.eligibility_rules = {"triage_symptoms": ["chest pain"]}
        db.session.commit()
    body = partner_client("northside", "partner_admin").get("/partner/profile").get_data(as_text=True)
    assert "Off: every care request goes to the clinic" in body and "chest pain" in body
    assert "sandbox-northside-secret" not in body and 'name="tenant"' not in body
    for role in ("scheduler", "viewer"):
        assert "Self-scheduling" not in partner_client("northside", role).get("/partner/profile").get_data(
            as_text=True)


NB = {"Accept-Language": "nb-NO,nb;q=0.9"}


def test_the_settings_screen_and_its_objections_read_in_bokmal(app, admin, partners):
    """The form's own checks (WTForms) and the service's (issuer, rules) both answer in the reader's language."""
    listing = admin.get("/admin/partners", headers=NB).get_data(as_text=True)
    assert "Legg til en samarbeidspartner" in listing and "Identitetsleverandør" in listing
    assert 'translate="no">/p/northside/login' in listing
    bad = admin.post("/admin/partners/new", headers=NB, data=dict(
        GOOD, tenant="Bay Care", idp_issuer="http://login.bay.example/", csrf_token=admin.csrf))
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Bruk små bokstaver, sifre og bindestrek" in body and "lower-case" not in body
    rules = admin.post("/admin/partners/new", headers=NB, data=dict(
        GOOD, idp_issuer="http://login.bay.example/", csrf_token=admin.csrf)).get_data(as_text=True)
    assert "Utsteder-URL-en må begynne med https://." in rules
    saved = admin.post(f"/admin/partners/{partners['harbour']['id']}", headers=NB, follow_redirects=True,
                       data=dict(GOOD, tenant="harbour", name="Harbour", csrf_token=admin.csrf))
    assert "Innstillingene for Harbour er lagret." in saved.get_data(as_text=True)
