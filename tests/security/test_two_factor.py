"""Two-factor sign-in: required per role, set up right after the password step, codes that cannot be
replayed, lockout, recovery codes that work once, and an admin's reset."""

import re
import time

import pyotp
from sqlalchemy import select, text

from portal.extensions import db
from portal.security.models import AuditEvent, RecoveryCode, StaffUser
from tests.conftest import PASSWORD, TOTP_SECRET, csrf_token_from, make_staff, sign_in


def _password_step(client, email):
    page = client.get("/login")
    return client.post("/login", data={"email": email, "password": PASSWORD,
                                       "csrf_token": csrf_token_from(page.get_data(as_text=True))})


def _send_code(client, code, path="/login/code"):
    page = client.get(path)
    return client.post(path, data={"code": code, "csrf_token": csrf_token_from(page.get_data(as_text=True))})


def _set_up(app, client, email) -> list[str]:
    """Password step, then set-up with the secret shown on the page; the recovery codes shown."""
    assert _password_step(client, email).headers["Location"] == "/login/two-factor"
    page = client.get("/login/two-factor").get_data(as_text=True)
    with app.app_context():
        secret = db.session.scalar(select(StaffUser).where(StaffUser.email == email)).totp_secret
    assert secret in page and "<svg" in page
    done = _send_code(client, pyotp.TOTP(secret).now(), "/login/two-factor")
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10
    return codes


def test_a_required_role_without_two_factor_sets_it_up_before_anything_else(app):
    make_staff(app, "doctor", "doc@test.example", two_factor=False)
    client = app.test_client()
    assert _password_step(client, "doc@test.example").headers["Location"] == "/login/two-factor"
    assert client.get("/consultations").status_code == 302  # not signed in yet: nothing else opens
    assert client.get("/account/sessions").status_code == 302
    wrong = _send_code(client, "000000", "/login/two-factor")
    assert wrong.status_code == 422 and "not right" in wrong.get_data(as_text=True)
    codes = _set_up(app, client, "doc@test.example")
    assert client.get("/consultations").status_code == 200
    with app.app_context():
        stored = list(db.session.scalars(select(RecoveryCode.code_hash)))
        raw_secret = db.session.execute(text("SELECT totp_secret FROM staff_users")).scalar()
        secret = db.session.scalar(select(StaffUser)).totp_secret
    assert len(stored) == 10 and not any(code.replace("-", "") in h for code in codes for h in stored)
    assert secret and secret not in raw_secret  # sealed at rest
    assert "staff.two_factor_enabled" in _actions(app)


def test_a_role_that_does_not_require_it_signs_in_with_the_password(app):
    make_staff(app, "secretary", "sec@test.example")
    response = _password_step(app.test_client(), "sec@test.example")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_requirement_is_a_setting_per_role(app, monkeypatch):
    monkeypatch.setitem(app.config, "TWO_FACTOR_REQUIRED_ROLES", frozenset({"secretary"}))
    make_staff(app, "secretary", "sec@test.example", two_factor=False)
    assert _password_step(app.test_client(), "sec@test.example").headers["Location"] == "/login/two-factor"


def test_a_code_cannot_be_used_twice(app, caplog):
    make_staff(app, "doctor", "doc@test.example")
    first = app.test_client()
    assert _password_step(first, "doc@test.example").headers["Location"] == "/login/code"
    code = pyotp.TOTP(TOTP_SECRET).now()
    assert _send_code(first, code).status_code == 302
    second = app.test_client()
    _password_step(second, "doc@test.example")
    replay = _send_code(second, code)
    assert replay.status_code == 200 and "used already" in replay.get_data(as_text=True)
    assert second.get("/consultations").status_code == 302
    assert "two-factor code replayed" in caplog.text


def test_wrong_codes_lock_the_step_even_for_the_right_code(app):
    make_staff(app, "doctor", "doc@test.example")
    client = app.test_client()
    _password_step(client, "doc@test.example")
    for _ in range(5):
        assert _send_code(client, "123456").status_code == 200
    locked = _send_code(client, pyotp.TOTP(TOTP_SECRET).now())
    assert locked.status_code == 429


def test_the_password_step_is_good_for_five_minutes(app):
    make_staff(app, "doctor", "doc@test.example")
    client = app.test_client()
    _password_step(client, "doc@test.example")
    with client.session_transaction() as session:
        session["pending_sign_in"] = {**session["pending_sign_in"], "at": time.time() - 301}
    response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_a_recovery_code_signs_in_once_only(app):
    make_staff(app, "reporting", "rita@test.example", two_factor=False)
    codes = _set_up(app, app.test_client(), "rita@test.example")
    client = app.test_client()
    _password_step(client, "rita@test.example")
    response = _send_code(client, codes[3].upper())
    assert response.status_code == 302
    assert "9 left" in client.get("/reports/insurer").get_data(as_text=True)
    again = app.test_client()
    _password_step(again, "rita@test.example")
    assert _send_code(again, codes[3]).status_code == 200
    assert again.get("/reports/insurer").status_code == 302
    with app.app_context():
        details = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "staff.login")).all()
    assert {"second_step": "recovery_code"} in details


def test_an_admin_reset_ends_their_sessions_and_asks_for_set_up_again(app, staff_client):
    admin = staff_client("admin")
    doctor = staff_client("doctor")
    with app.app_context():
        doctor_id = db.session.scalar(select(StaffUser.id).where(StaffUser.email == "doctor@test.example"))
    assert admin.post(f"/admin/staff/{doctor_id}/reset-two-factor",
                      data={"csrf_token": admin.csrf}).status_code == 302
    assert doctor.get("/consultations").status_code == 302
    assert _password_step(app.test_client(), "doctor@test.example").headers["Location"] == "/login/two-factor"
    assert "staff.two_factor_reset" in _actions(app)


def test_signing_in_through_the_helper_passes_both_steps(app):
    make_staff(app, "admin", "ada@test.example")
    assert sign_in(app.test_client(), "ada@test.example").headers["Location"] == "/"


def _actions(app):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action)))


def test_new_recovery_codes_need_the_password_and_replace_the_old_ones(app, staff_client):
    doctor = staff_client("doctor")
    with app.app_context():
        from portal.security import two_factor

        old = two_factor.new_recovery_codes(db.session.scalar(select(StaffUser)))
        db.session.commit()
    page = doctor.get("/account/two-factor")
    assert "10 unused recovery codes" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    assert doctor.post("/account/two-factor", data={"csrf_token": token, "password": "wrong"}).status_code == 422
    made = doctor.post("/account/two-factor", data={"csrf_token": token, "password": PASSWORD})
    new = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", made.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    client = app.test_client()
    _password_step(client, "doctor@test.example")
    assert _send_code(client, old[0]).status_code == 200  # the old codes stopped working
    assert _send_code(client, new[0]).status_code == 302


def test_a_secretary_may_choose_two_factor(app, staff_client):
    secretary = staff_client("secretary")
    page = secretary.get("/account/two-factor").get_data(as_text=True)
    with app.app_context():
        secret = db.session.scalar(select(StaffUser)).totp_secret
    done = secretary.post("/account/two-factor", data={"csrf_token": csrf_token_from(page),
                                                       "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and len(re.findall(r"<li><code>", done.get_data(as_text=True))) == 10
    assert _password_step(app.test_client(), "secretary@test.example").headers["Location"] == "/login/code"
