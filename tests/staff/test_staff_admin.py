"""Admins run staff accounts at /admin/staff: list, search, pages of 25, invitations, role changes,
deactivation; the last active admin is kept; every change is audited and ends the person's sessions."""

import threading

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.security.models import AuditEvent, StaffToken, StaffUser
from tests.conftest import csrf_token_from, make_staff, sign_in
from tests.staff.helpers import emails, link_in

GOOD_PASSWORD = "lantern orchard violet"


def _audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _user(app, email):
    with app.app_context():
        return db.session.scalar(select(StaffUser).where(StaffUser.email == email))


def _many_staff(app, n):
    with app.app_context():
        for i in range(n):
            db.session.add(StaffUser(email=f"person{i:02d}@test.example", name=f"Person {i:02d}", role="secretary",
                                     password_hash="!"))
        db.session.commit()


def test_admins_list_search_and_page_through_staff(app, staff_client):
    admin = staff_client("admin")
    _many_staff(app, 30)
    first = admin.get("/admin/staff").get_data(as_text=True)
    assert "31 people" in first and "Page 1 of 2" in first
    assert first.count("/admin/staff/") >= 25 and "person29@test.example" not in first
    second = admin.get("/admin/staff?page=2").get_data(as_text=True)
    assert "person29@test.example" in second
    found = admin.get("/admin/staff?q=ERSON 07").get_data(as_text=True)
    assert "1 person" in found and "person07@test.example" in found and "person08" not in found
    by_email = admin.get("/admin/staff?q=person1", headers={"HX-Request": "true"})
    assert by_email.status_code == 200 and "<html" not in by_email.get_data(as_text=True)
    assert "10 people" in by_email.get_data(as_text=True)
    assert "0 people" in admin.get("/admin/staff?q=%25").get_data(as_text=True)  # "%" is a character, not a wildcard


@pytest.mark.parametrize("role", ["secretary", "doctor", "reporting"])
def test_only_admins_manage_staff(staff_client, role):
    client = staff_client(role)
    assert client.get("/admin/staff").status_code == 403
    assert client.post("/admin/staff/1/deactivate", data={"csrf_token": client.csrf}).status_code == 403


def test_an_invitation_is_a_single_use_hashed_link_to_choose_a_password(app, staff_client):
    admin = staff_client("admin")
    page = admin.get("/admin/staff").get_data(as_text=True)
    response = admin.post("/admin/staff", data={"csrf_token": csrf_token_from(page), "name": "Nina Nurse",
                                                 "email": "Nina@Test.example", "role": "secretary"})
    assert response.status_code == 302
    (mail,) = emails(app, "staff_invite", "nina@test.example")
    link = link_in(mail)
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        stored = db.session.scalar(select(StaffToken))
        assert stored.token_hash != token and token not in stored.token_hash
        assert abs((stored.expires_at - stored.created_at).total_seconds() - 72 * 3600) < 5
    assert _user(app, "nina@test.example").invited
    # The invitee cannot sign in before choosing a password.
    assert sign_in(app.test_client(), "nina@test.example", "!invited").status_code == 200

    invitee = app.test_client()
    form = invitee.get(link)
    assert form.status_code == 200 and "nina@test.example" in form.get_data(as_text=True)
    token_field = csrf_token_from(form.get_data(as_text=True))
    weak = invitee.post(link, data={"csrf_token": token_field, "password": "password1234", "confirm": "password1234"})
    assert weak.status_code == 422 and "too common" in weak.get_data(as_text=True)
    done = invitee.post(link, data={"csrf_token": token_field, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD})
    assert done.status_code == 302 and invitee.get("/queue").status_code == 200  # a secretary: signed in
    assert invitee.get(link).status_code == 410  # used up
    assert not _user(app, "nina@test.example").invited
    assert {"staff.invited", "staff.invitation_accepted", "staff.login"} <= set(_audit_actions(app))


def test_an_expired_invitation_does_not_open(app, staff_client):
    from portal.staff import services as staff

    admin = staff_client("admin")
    admin.post("/admin/staff", data={"csrf_token": admin.csrf, "name": "Late Larry", "email": "larry@test.example",
                                     "role": "secretary"})
    link = link_in(emails(app, "staff_invite")[0])
    with app.app_context():
        row = db.session.scalar(select(StaffToken))
        row.expires_at = row.created_at  # 72 hours later
        db.session.commit()
    assert app.test_client().get(link).status_code == 410
    assert staff.PAGE_SIZE == 25


def test_a_second_invitation_replaces_the_first_link(app, staff_client):
    admin = staff_client("admin")
    admin.post("/admin/staff", data={"csrf_token": admin.csrf, "name": "Olga", "email": "olga@test.example",
                                     "role": "secretary"})
    user_id = _user(app, "olga@test.example").id
    assert admin.post(f"/admin/staff/{user_id}/resend-invitation",
                      data={"csrf_token": admin.csrf}).status_code == 302
    first, second = emails(app, "staff_invite")
    assert app.test_client().get(link_in(first)).status_code == 410
    assert app.test_client().get(link_in(second)).status_code == 200


def test_inviting_an_existing_address_is_refused_in_the_form(app, staff_client):
    admin = staff_client("admin")
    response = admin.post("/admin/staff", data={"csrf_token": admin.csrf, "name": "Again",
                                                 "email": "admin@test.example", "role": "doctor"})
    assert response.status_code == 422 and "already an account" in response.get_data(as_text=True)
    assert admin.post("/admin/staff", data={"name": "x", "email": "x@test.example",
                                            "role": "doctor"}).status_code == 400  # no CSRF token


def test_a_role_change_ends_the_persons_sessions_and_is_audited(app, staff_client):
    admin = staff_client("admin")
    secretary = staff_client("secretary")
    assert secretary.get("/queue").status_code == 200
    user_id = _user(app, "secretary@test.example").id
    response = admin.post(f"/admin/staff/{user_id}/role", data={"csrf_token": admin.csrf, "role": "reporting"})
    assert response.status_code == 302
    assert secretary.get("/queue").status_code == 302
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.role_changed"))
        assert event.details == {"before": "secretary", "after": "reporting"} and event.subject_id == str(user_id)


def test_deactivation_signs_out_at_once_and_reactivation_lets_them_back(app, staff_client):
    admin = staff_client("admin")
    doctor = staff_client("doctor")
    user_id = _user(app, "doctor@test.example").id
    assert admin.post(f"/admin/staff/{user_id}/deactivate", data={"csrf_token": admin.csrf}).status_code == 302
    assert doctor.get("/consultations").status_code == 302
    assert sign_in(app.test_client(), "doctor@test.example").status_code == 200  # refused
    assert admin.post(f"/admin/staff/{user_id}/reactivate", data={"csrf_token": admin.csrf}).status_code == 302
    assert sign_in(app.test_client(), "doctor@test.example").status_code == 302
    assert {"staff.deactivated", "staff.reactivated"} <= set(_audit_actions(app))


def _active_admins(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(StaffUser).where(
            StaffUser.role == "admin", StaffUser.active.is_(True)))


def test_the_last_active_admin_is_kept(app, staff_client):
    from portal.staff import services as staff

    admin = staff_client("admin")
    me = _user(app, "admin@test.example").id
    page = admin.post(f"/admin/staff/{me}/role", data={"csrf_token": admin.csrf, "role": "doctor"},
                      follow_redirects=True)
    assert "last active admin" in page.get_data(as_text=True)
    assert _active_admins(app) == 1
    with app.app_context(), pytest.raises(staff.LastAdmin):
        staff.deactivate(me)
    assert "You cannot deactivate yourself" in admin.post(
        f"/admin/staff/{me}/deactivate", data={"csrf_token": admin.csrf}, follow_redirects=True).get_data(as_text=True)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app):
    from portal.staff import services as staff

    first, second = make_staff(app, "admin", "a1@test.example"), make_staff(app, "admin", "a2@test.example")
    for _ in range(5):
        start = threading.Barrier(2)
        outcomes = []

        def demote(user_id, start=start, outcomes=outcomes):
            with app.app_context():
                start.wait()
                try:
                    staff.change_role(user_id, "secretary")
                    outcomes.append("demoted")
                except staff.LastAdmin:
                    outcomes.append("refused")
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=demote, args=(user_id,)) for user_id in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["demoted", "refused"]
        assert _active_admins(app) == 1
        with app.app_context():
            staff.change_role(first, "admin")
            staff.change_role(second, "admin")
