"""Staff sign-in, lockout, idle timeout, CSRF and response headers."""

import time

import time_machine
from sqlalchemy import select

from portal.extensions import db
from portal.security.models import AuditEvent
from tests.conftest import PASSWORD, csrf_token_from, make_consultation, make_staff, sign_in


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


# --- activity: the cookie is re-sent when the session changed, at most once a minute for activity alone ----

def _sets_cookie(response) -> bool:
    return any(cookie.startswith("session=") for cookie in response.headers.getlist("Set-Cookie"))


def test_a_request_soon_after_the_last_does_not_send_the_cookie_again(staff_client):
    secretary = staff_client("secretary")
    secretary.get("/queue")
    again = secretary.get("/queue")
    assert again.status_code == 200 and not _sets_cookie(again)


def test_activity_moves_last_active_on_once_it_is_a_minute_old(staff_client):
    secretary = staff_client("secretary")
    with secretary.session_transaction() as session:
        session["last_active"] = time.time() - 61
    renewed = secretary.get("/queue")
    assert renewed.status_code == 200 and _sets_cookie(renewed)
    with secretary.session_transaction() as session:
        assert time.time() - session["last_active"] < 5


def test_an_active_staff_session_outlives_the_idle_timeout_and_an_idle_one_ends_within_it(staff_client):
    secretary = staff_client("secretary")
    with time_machine.travel(time.time(), tick=False) as traveller:
        for _ in range(4):  # 56 minutes of work, a page every 14 minutes
            traveller.shift(14 * 60)
            assert secretary.get("/queue").status_code == 200
        traveller.shift(59)  # activity within the minute does not move last_active
        assert secretary.get("/queue").status_code == 200
        traveller.shift(15 * 60 - 58)  # 15 minutes and 1 second after the last write
        ended = secretary.get("/queue")
    assert ended.status_code == 302 and "/login" in ended.headers["Location"]


def test_a_patients_link_session_lives_while_they_use_it_and_ends_when_they_leave_it(app, client):
    from tests.consultations.conftest import check, link_for

    cid = make_consultation(app)
    with time_machine.travel(time.time(), tick=False) as traveller:
        assert check(client, link_for(app, cid)).status_code == 302
        first = client.get("/c/room/poll?since=-1", headers={"HX-Request": "true"})
        assert first.status_code == 200
        assert not _sets_cookie(client.get("/c/room/poll?since=-1", headers={"HX-Request": "true"}))
        for _ in range(3):  # the waiting room polls: each renews the cookie once it is a minute old
            traveller.shift(14 * 60)
            renewed = client.get("/c/room/poll?since=-1", headers={"HX-Request": "true"})
            assert renewed.status_code == 200 and _sets_cookie(renewed)
        traveller.shift(15 * 60 + 1)  # the cookie's signature is older than the idle timeout: refused
        assert client.get("/c/room").status_code == 404
