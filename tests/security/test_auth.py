"""Staff sign-in, lockout, idle timeout, CSRF and response headers."""

import time

from sqlalchemy import select

from portal.extensions import db
from portal.security.models import AuditEvent
from tests.conftest import PASSWORD, csrf_token_from, make_staff, sign_in


def test_sign_in_and_out(client, app):
    make_staff(app, "secretary", "sara@test.example")
    response = sign_in(client, "Sara@Test.example ")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/queue").status_code == 200
    token = csrf_token_from(client.get("/queue").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/queue").status_code == 302
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions[0] == "staff.login" and actions[-1] == "staff.logout"


def test_wrong_password_and_unknown_email_get_the_same_answer(client, app):
    make_staff(app, "doctor", "dora@test.example")
    wrong = sign_in(client, "dora@test.example", "not the password")
    unknown = sign_in(client, "nobody@test.example", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    assert "E-mail or password is not right." in wrong.get_data(as_text=True)
    assert "E-mail or password is not right." in unknown.get_data(as_text=True)


def test_inactive_account_cannot_sign_in(client, app):
    from portal.security.models import StaffUser

    make_staff(app, "doctor", "gone@test.example")
    with app.app_context():
        db.session.scalar(select(StaffUser)).active = False
        db.session.commit()
    assert sign_in(client, "gone@test.example").status_code == 200


def test_account_locks_after_five_failures_even_with_the_right_password(client, app):
    make_staff(app, "secretary", "lock@test.example")
    for _ in range(5):
        assert sign_in(client, "lock@test.example", "wrong password").status_code == 200
    locked = sign_in(client, "lock@test.example", PASSWORD)
    assert locked.status_code == 429
    assert "Too many attempts" in locked.get_data(as_text=True)
    # Another account is not locked by these failures.
    make_staff(app, "doctor", "other@test.example")
    assert sign_in(client, "other@test.example").status_code == 302


def test_successful_sign_ins_do_not_count_towards_lockout(client, app):
    make_staff(app, "secretary", "fine@test.example")
    for _ in range(7):
        assert sign_in(client, "fine@test.example").status_code == 302


def test_sign_in_form_needs_csrf(client, app):
    make_staff(app, "secretary", "csrf@test.example")
    response = client.post("/login", data={"email": "csrf@test.example", "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_next_parameter_cannot_send_you_off_site(client, app):
    make_staff(app, "secretary", "next@test.example")
    page = client.get("/login?next=//evil.example/x")
    response = client.post("/login?next=//evil.example/x", data={
        "email": "next@test.example", "password": PASSWORD, "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.headers["Location"] == "/"


def test_idle_session_is_signed_out(staff_client):
    secretary = staff_client("secretary")
    with secretary.session_transaction() as session:
        session["last_active"] = time.time() - 16 * 60
    response = secretary.get("/queue")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert secretary.get("/queue").status_code == 302


def test_background_polls_do_not_keep_a_session_alive(staff_client):
    secretary = staff_client("secretary")
    with secretary.session_transaction() as session:
        session["last_active"] = time.time() - 14 * 60
    secretary.post("/queue/poll?since=0", headers={"HX-Request": "true", "X-CSRFToken": secretary.csrf})
    with secretary.session_transaction() as session:
        assert time.time() - session["last_active"] > 13 * 60
    secretary.get("/queue")
    with secretary.session_transaction() as session:
        assert time.time() - session["last_active"] < 5


def test_htmx_request_after_timeout_is_told_to_redirect(staff_client):
    secretary = staff_client("secretary")
    with secretary.session_transaction() as session:
        session["last_active"] = time.time() - 16 * 60
    response = secretary.post("/queue/poll?since=0", headers={"HX-Request": "true", "X-CSRFToken": secretary.csrf})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_on_https(client):
    response = client.get("/login", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
