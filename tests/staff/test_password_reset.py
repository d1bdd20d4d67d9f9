"""Forgot password: the same answer for every address; a single-use link for 30 minutes, stored hashed;
rate limited per address and per IP; using it ends every session and tells the person by e-mail."""

from sqlalchemy import select

from portal.extensions import db
from portal.security.models import StaffToken
from tests.conftest import csrf_token_from, make_staff, sign_in, without_csrf_tokens
from tests.staff.helpers import emails, link_in

NEW_PASSWORD = "meadow compass thunder"


def _ask(client, email, ip="10.0.0.1"):
    page = client.get("/forgot-password")
    return client.post("/forgot-password", data={"email": email, "csrf_token": csrf_token_from(
        page.get_data(as_text=True))}, environ_base={"REMOTE_ADDR": ip})


def test_known_and_unknown_addresses_get_the_same_answer(app, client):
    make_staff(app, "secretary", "sara@test.example")
    known, unknown = _ask(client, "sara@test.example"), _ask(client, "nobody@test.example")
    assert known.status_code == unknown.status_code == 200
    assert without_csrf_tokens(known.get_data(as_text=True)) == without_csrf_tokens(unknown.get_data(as_text=True))
    assert len(emails(app, "staff_reset")) == 1 and emails(app, "staff_reset")[0].recipient == "sara@test.example"


def test_a_deactivated_account_gets_no_link(app, client):
    from portal.staff import services as staff

    user_id = make_staff(app, "secretary", "gone@test.example")
    make_staff(app, "admin", "boss@test.example")
    with app.app_context():
        staff.deactivate(user_id)
    assert _ask(client, "gone@test.example").status_code == 200
    assert emails(app, "staff_reset") == []


def test_the_reset_link_works_once_ends_every_session_and_tells_the_user(app):
    make_staff(app, "secretary", "sara@test.example")
    signed_in = app.test_client()
    assert sign_in(signed_in, "sara@test.example").status_code == 302
    _ask(app.test_client(), "sara@test.example")
    link = link_in(emails(app, "staff_reset")[0])
    with app.app_context():
        stored = db.session.scalar(select(StaffToken))
        assert link.rsplit("/", 1)[1] not in stored.token_hash
        assert abs((stored.expires_at - stored.created_at).total_seconds() - 30 * 60) < 5
    browser = app.test_client()
    form = browser.get(link).get_data(as_text=True)
    response = browser.post(link, data={"csrf_token": csrf_token_from(form), "password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert signed_in.get("/queue").status_code == 302  # the old session is gone
    assert browser.get(link).status_code == 410  # single use
    (told,) = emails(app, "staff_password_changed", "sara@test.example")
    assert "signed out" in told.body
    assert sign_in(app.test_client(), "sara@test.example").status_code == 200  # the old password is refused
    assert sign_in(app.test_client(), "sara@test.example", NEW_PASSWORD).status_code == 302


def test_a_link_older_than_30_minutes_does_not_open(app, client):
    make_staff(app, "secretary", "sara@test.example")
    _ask(client, "sara@test.example")
    with app.app_context():
        row = db.session.scalar(select(StaffToken))
        row.expires_at = row.created_at
        db.session.commit()
    response = client.get(link_in(emails(app, "staff_reset")[0]))
    assert response.status_code == 410 and "30 minutes" in response.get_data(as_text=True)


def test_a_new_request_replaces_the_older_link(app, client):
    make_staff(app, "secretary", "sara@test.example")
    _ask(client, "sara@test.example")
    _ask(client, "sara@test.example")
    first, second = emails(app, "staff_reset")
    assert client.get(link_in(first)).status_code == 410 and client.get(link_in(second)).status_code == 200


def test_requests_are_rate_limited_per_address_and_per_ip(app, client):
    make_staff(app, "secretary", "sara@test.example")
    for _ in range(3):
        assert _ask(client, "sara@test.example", ip="10.0.0.2").status_code == 200
    assert _ask(client, "sara@test.example", ip="10.0.0.3").status_code == 429  # the address, from anywhere
    assert len(emails(app, "staff_reset")) == 3
    for i in range(20):
        assert _ask(client, f"someone{i}@test.example", ip="10.0.0.4").status_code == 200
    assert _ask(client, "another@test.example", ip="10.0.0.4").status_code == 429  # the IP, for any address
    assert _ask(client, "another@test.example", ip="10.0.0.5").status_code == 200
