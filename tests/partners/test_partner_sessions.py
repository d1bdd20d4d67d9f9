"""Partner users' sessions follow the staff rules: a server-side record per sign-in, and sign-out,
deactivation and a role change end it at once, so a replayed cookie gets their sign-in page."""

from sqlalchemy import select

from portal.extensions import db, redis_client
from portal.security.models import AuditEvent
from tests.checkin.conftest import redis_unreachable
from tests.partners.fixtures import sign_in_partner

TENANT_PAGE = "/p/northside/login?signed_out=1"


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, value: str, path="/partner/care-requests"):
    """The captured cookie in a browser that has only it (and the tenant cookie a sign-in leaves)."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    thief.set_cookie("partner_tenant", "northside")
    return thief.get(path)


def _records_of(app, user_id) -> int:
    with app.app_context():
        return redis_client().scard(f"sessions:partner:{user_id}")


def test_a_partner_sign_in_keeps_a_server_side_record(app, partners):
    sign_in_partner(app, "northside", "scheduler")
    user_id = partners["northside"]["users"]["scheduler"]
    with app.app_context():
        (digest,) = redis_client().smembers(f"sessions:partner:{user_id}")
        record = redis_client().hgetall(f"session:{digest.decode()}")
        assert 0 < redis_client().ttl(f"session:{digest.decode()}") <= 15 * 60
    assert record[b"user"] == f"partner:{user_id}".encode()


def test_a_partner_cookie_replayed_after_sign_out_gets_the_sign_in_page(app, partners):
    client = sign_in_partner(app, "northside", "scheduler")
    captured = _cookie(client)
    assert _replay(app, captured).status_code == 200  # the copy works while the session lives
    assert client.post("/partner/logout", data={"csrf_token": client.csrf}).status_code == 302
    for path in ("/partner/care-requests", "/partner/profile", "/schedule"):
        response = _replay(app, captured, path)
        assert response.status_code == 302 and response.headers["Location"] == TENANT_PAGE, path
    assert _records_of(app, partners["northside"]["users"]["scheduler"]) == 0
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "partner.logout")) is not None


def test_the_session_record_is_checked_not_just_the_signed_cookie(app, partners):
    client = sign_in_partner(app, "northside", "viewer")
    with app.app_context():
        for key in redis_client().keys("session:*"):
            redis_client().delete(key)
    response = client.get("/partner/care-requests")
    assert response.status_code == 302 and response.headers["Location"] == TENANT_PAGE
    assert "Your session has ended" in client.get(TENANT_PAGE).get_data(as_text=True)


def test_deactivating_a_partner_user_signs_out_every_browser_of_theirs_at_once(app, partners):
    user_id = partners["northside"]["users"]["scheduler"]
    first, second = sign_in_partner(app, "northside", "scheduler"), sign_in_partner(app, "northside", "scheduler")
    captured = _cookie(first)
    assert _records_of(app, user_id) == 2
    admin = sign_in_partner(app, "northside", "partner_admin")
    assert admin.post(f"/partner/users/{user_id}/deactivate", data={"csrf_token": admin.csrf}).status_code == 302
    assert _records_of(app, user_id) == 0
    for browser in (first, second):
        response = browser.get("/partner/care-requests")
        assert response.status_code == 302 and response.headers["Location"] == TENANT_PAGE
    assert _replay(app, captured).headers["Location"] == TENANT_PAGE
    assert admin.get("/partner/users").status_code == 200  # the admin's own session is untouched


def test_a_role_change_ends_the_users_sessions_and_the_new_sign_in_has_the_new_role(app, partners):
    user_id = partners["northside"]["users"]["scheduler"]
    scheduler = sign_in_partner(app, "northside", "scheduler")
    assert scheduler.get("/partner/care-requests/new").status_code == 200
    admin = sign_in_partner(app, "northside", "partner_admin")
    response = admin.post(f"/partner/users/{user_id}/role", data={"role": "viewer", "csrf_token": admin.csrf})
    assert response.status_code == 302
    assert scheduler.get("/partner/care-requests/new").headers["Location"] == TENANT_PAGE
    again = sign_in_partner(app, "northside", "scheduler")  # the same person, now a viewer
    assert again.get("/partner/care-requests/new").status_code == 403
    assert again.get("/partner/care-requests").status_code == 200


def test_saving_the_same_role_signs_nobody_out(app, partners):
    user_id = partners["northside"]["users"]["viewer"]
    viewer = sign_in_partner(app, "northside", "viewer")
    admin = sign_in_partner(app, "northside", "partner_admin")
    admin.post(f"/partner/users/{user_id}/role", data={"role": "viewer", "csrf_token": admin.csrf})
    assert viewer.get("/partner/care-requests").status_code == 200


def test_a_role_change_while_redis_is_unreachable_still_shuts_old_cookies_out(app, partners):
    from portal.partners import services

    northside = partners["northside"]
    user_id = northside["users"]["scheduler"]
    scheduler = sign_in_partner(app, "northside", "scheduler")
    with app.app_context(), redis_unreachable(app):
        services.change_role(northside["id"], user_id, "viewer")  # the records cannot be deleted now
    assert _records_of(app, user_id) == 1  # Redis is back, the record is still there...
    response = scheduler.get("/partner/care-requests")
    assert response.status_code == 302 and response.headers["Location"] == TENANT_PAGE  # ...the epoch refuses it


def test_partner_sign_in_is_refused_with_503_while_the_session_store_cannot_be_reached(app, partners):
    from tests.partners.fixtures import choose_demo_user, finish_sign_in, start_sign_in

    client = app.test_client()
    callback = choose_demo_user(start_sign_in(client, "northside"), "ns-sam")
    with redis_unreachable(app):
        response = finish_sign_in(client, callback)
    assert response.status_code == 503
    assert client.get("/partner/care-requests").status_code == 302
