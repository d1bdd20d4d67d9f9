"""Partner sign-in through the sandbox OpenID Connect provider on loopback."""

from sqlalchemy import select

from portal.extensions import db
from tests.partners.fixtures import (
    choose_demo_user,
    demo_users,
    finish_sign_in,
    query_of,
    sign_in_partner,
    start_sign_in,
)


def _user(app, user_id):
    from portal.partners.models import PartnerUser

    with app.app_context():
        user = db.session.get(PartnerUser, user_id)
        db.session.expunge(user)
        return user


def test_invited_user_signs_in_and_first_login_links_their_identity(app, partners):
    client = sign_in_partner(app, "northside", "scheduler")
    assert client.get("/partner/care-requests").status_code == 200
    user = _user(app, partners["northside"]["users"]["scheduler"])
    assert user.idp_subject == "ns-sam"
    assert user.idp_issuer.endswith("/idp/northside")


def test_second_sign_in_is_matched_by_issuer_and_subject_even_after_the_email_changed(app, partners):
    from portal.partners.models import PartnerUser

    sign_in_partner(app, "northside", "scheduler")
    with app.app_context():
        user = db.session.get(PartnerUser, partners["northside"]["users"]["scheduler"])
        user.email = "renamed@northside.example"
        db.session.commit()
    client = sign_in_partner(app, "northside", "scheduler")
    assert client.get("/partner/care-requests").status_code == 200


def test_authorization_request_carries_pkce_state_and_nonce(app, partners):
    client = app.test_client()
    query = query_of(start_sign_in(client, "northside"))
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0] and query["nonce"][0] and query["code_challenge"][0]


def test_callback_with_a_state_the_session_never_issued_is_refused(app, partners):
    client = app.test_client()
    callback = choose_demo_user(start_sign_in(client, "northside"), "ns-sam")
    tampered = callback.replace("state=", "state=x")
    response = finish_sign_in(client, tampered)
    assert response.status_code == 400
    assert "could not be checked" in response.get_data(as_text=True)
    assert client.get("/partner/care-requests").status_code == 302


def test_callback_in_another_browser_session_is_refused(app, partners):
    starter, thief = app.test_client(), app.test_client()
    callback = choose_demo_user(start_sign_in(starter, "northside"), "ns-sam")
    assert finish_sign_in(thief, callback).status_code == 400


def test_id_token_with_another_nonce_is_refused(app, partners):
    client = app.test_client()
    callback = choose_demo_user(start_sign_in(client, "northside"), "ns-sam")
    with client.session_transaction() as sess:
        key = next(k for k in sess if k.startswith("_state_partner-northside-"))
        state = dict(sess[key])
        state["data"] = dict(state["data"], nonce="not-the-nonce-sent")
        sess[key] = state
    response = finish_sign_in(client, callback)
    assert response.status_code == 400
    assert client.get("/partner/care-requests").status_code == 302


def test_code_from_tenant_a_at_tenant_b_callback_is_refused(app, partners):
    client = app.test_client()
    callback = choose_demo_user(start_sign_in(client, "northside"), "ns-sam")
    response = finish_sign_in(client, callback.replace("/p/northside/callback", "/p/harbour/callback"))
    assert response.status_code == 400
    assert client.get("/partner/care-requests").status_code == 302


def test_a_user_of_tenant_a_cannot_sign_in_at_tenant_b(app, partners):
    from portal.partners import services
    from portal.partners.models import Partner

    # Even if harbour's admin invites northside's user, harbour's provider vouches only for harbour users,
    # and a northside identity is never accepted by harbour's issuer.
    with app.app_context():
        harbour = db.session.get(Partner, partners["harbour"]["id"])
        northside = db.session.get(Partner, partners["northside"]["id"])
        assert services.user_for_sign_in(harbour, issuer=northside.idp_issuer, subject="ns-sam",
                                         email="sam@northside.example") is None


def test_provider_user_who_was_never_invited_gets_no_access(app, partners):
    from portal.partners.models import PartnerUser

    with app.app_context():
        db.session.execute(db.delete(PartnerUser).where(PartnerUser.email == "vic@northside.example"))
        db.session.commit()
    client = app.test_client()
    response = finish_sign_in(client, choose_demo_user(start_sign_in(client, "northside"), "ns-vic"))
    assert response.status_code == 403


def test_deactivated_user_cannot_sign_in_and_is_signed_out(app, partners):
    from portal.partners import services

    client = sign_in_partner(app, "northside", "scheduler")
    with app.app_context():
        services.deactivate_user(partners["northside"]["id"], partners["northside"]["users"]["scheduler"])
    assert client.get("/partner/care-requests").status_code == 302
    fresh = app.test_client()
    response = finish_sign_in(fresh, choose_demo_user(start_sign_in(fresh, "northside"), "ns-sam"))
    assert response.status_code == 403


def test_unknown_tenant_is_404(client, partners):
    assert client.get("/p/nowhere/login").status_code == 404
    assert client.get("/p/nowhere/callback?code=x&state=y").status_code == 404


def test_callback_without_code_or_state_is_a_clear_400(client, partners):
    assert client.get("/p/northside/callback").status_code == 400
    assert client.get("/p/northside/callback?error=access_denied").status_code == 400


def test_unreachable_provider_is_a_clear_502(app, partners):
    from portal.partners.models import Partner

    with app.app_context():
        partner = db.session.get(Partner, partners["harbour"]["id"])
        partner.idp_issuer = "http://127.0.0.1:9/idp/harbour"
        db.session.commit()
    assert app.test_client().get("/p/harbour/login").status_code == 502


def test_partner_session_is_not_a_staff_session(app, partners, diary_set_up):
    client = sign_in_partner(app, "northside", "partner_admin")
    assert client.get("/queue").status_code == 403
    assert client.get("/triage").status_code == 403
    assert client.get("/schedules").status_code == 403


def test_sign_in_is_audited_as_the_partner_user(app, partners):
    from portal.security.models import AuditEvent

    sign_in_partner(app, "northside", "viewer")
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "partner.login"))
        assert event.actor_type == "partner"
        assert event.actor_id == str(partners["northside"]["users"]["viewer"])


def test_demo_users_exist_for_both_tenants():
    assert len(demo_users("northside")) >= 3 and len(demo_users("harbour")) >= 2
