"""Staff admins deactivate (and reactivate) a whole partner organisation: its users are signed out at
once, cannot sign in, and its links stop working; the other partner is untouched; every switch audited."""

import pytest
from sqlalchemy import select

from portal.extensions import db, redis_client
from portal.security.models import AuditEvent
from tests.checkin.conftest import redis_unreachable
from tests.partners.fixtures import choose_demo_user, finish_sign_in, sign_in_partner, start_sign_in

TENANT_PAGE = "/p/northside/login?signed_out=1"


@pytest.fixture
def admin(staff_client):
    return staff_client("admin")


def _deactivate(admin, partner_id, **kwargs):
    return admin.post(f"/admin/partners/{partner_id}/deactivate", data={"csrf_token": admin.csrf}, **kwargs)


def _reactivate(admin, partner_id, **kwargs):
    return admin.post(f"/admin/partners/{partner_id}/reactivate", data={"csrf_token": admin.csrf}, **kwargs)


def _events(app, action):
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
        return events


def test_deactivating_a_partner_signs_every_user_of_it_out_at_once(app, admin, partners):
    northside = partners["northside"]
    browsers = [sign_in_partner(app, "northside", role) for role in ("partner_admin", "scheduler", "viewer")]
    harbour = sign_in_partner(app, "harbour", "scheduler")
    page = _deactivate(admin, northside["id"], follow_redirects=True).get_data(as_text=True)
    assert "Northside is deactivated: its 3 users are signed out" in page
    assert "Reactivate Northside" in page
    with app.app_context():
        for user_id in northside["users"].values():
            assert redis_client().scard(f"sessions:partner:{user_id}") == 0
    for browser in browsers:
        response = browser.get("/partner/care-requests")
        assert response.status_code == 302 and response.headers["Location"] == TENANT_PAGE
        told = browser.get(TENANT_PAGE)
        assert told.status_code == 403 and "access to the portal is switched off" in told.get_data(as_text=True)
    assert harbour.get("/partner/care-requests").status_code == 200  # the other partner goes on
    [event] = _events(app, "partner.deactivated")
    assert event.actor_type == "staff" and event.details["users_signed_out"] == 3


def test_a_deactivated_partners_users_cannot_sign_in(app, admin, partners):
    half_way = app.test_client()
    callback = choose_demo_user(start_sign_in(half_way, "northside"), "ns-sam")  # at the provider as it happens
    _deactivate(admin, partners["northside"]["id"])
    assert finish_sign_in(half_way, callback).status_code == 403
    assert half_way.get("/partner/care-requests").status_code == 302
    fresh = app.test_client()
    refused = fresh.get("/p/northside/login")
    assert refused.status_code == 403 and "switched off" in refused.get_data(as_text=True)
    assert "Location" not in refused.headers  # never sent on to the provider


def test_its_links_stop_working(app, admin, partners):
    northside = partners["northside"]
    scheduler = sign_in_partner(app, "northside", "scheduler")
    handed_off = scheduler.post(f"/partner/patients/{northside['patient_id']}/schedule",
                                data={"csrf_token": scheduler.csrf})
    handoff_link = handed_off.headers["Location"]
    assert handoff_link.startswith("/schedule/")
    _deactivate(admin, northside["id"])
    # The handoff link, and the care request's link that triage outcome e-mails carry.
    for link in (handoff_link, f"/partner/care-requests/{northside['care_request_id']}"):
        response = scheduler.get(link)
        assert response.status_code == 302 and response.headers["Location"] == TENANT_PAGE, link


def test_a_deactivation_while_redis_is_unreachable_still_shuts_its_users_out(app, admin, partners):
    from portal.partners import settings

    scheduler = sign_in_partner(app, "northside", "scheduler")
    with app.app_context(), redis_unreachable(app):
        assert settings.deactivate_partner(partners["northside"]["id"]) == 3  # the records cannot be deleted now
    response = scheduler.get("/partner/care-requests")
    assert response.status_code == 302 and response.headers["Location"] == TENANT_PAGE


def test_reactivating_lets_its_active_users_sign_in_again(app, admin, partners):
    from portal.partners import services

    northside = partners["northside"]
    with app.app_context():
        services.deactivate_user(northside["id"], northside["users"]["viewer"])
    _deactivate(admin, northside["id"])
    page = _reactivate(admin, northside["id"], follow_redirects=True).get_data(as_text=True)
    assert "Northside is active again" in page and "Deactivate Northside" in page
    assert sign_in_partner(app, "northside", "scheduler").get("/partner/care-requests").status_code == 200
    client = app.test_client()
    refused = finish_sign_in(client, choose_demo_user(start_sign_in(client, "northside"), "ns-vic"))
    assert refused.status_code == 403  # deactivated on their own: stays so
    [event] = _events(app, "partner.reactivated")
    assert event.details["partner_id"] == northside["id"]


def test_switching_twice_changes_nothing_the_second_time(app, admin, partners):
    northside = partners["northside"]["id"]
    _deactivate(admin, northside)
    again = _deactivate(admin, northside, follow_redirects=True).get_data(as_text=True)
    assert "Northside was already deactivated." in again
    _reactivate(admin, northside)
    assert "Northside was already active." in _reactivate(admin, northside, follow_redirects=True).get_data(
        as_text=True)
    assert len(_events(app, "partner.deactivated")) == 1 and len(_events(app, "partner.reactivated")) == 1


def test_the_list_shows_which_partners_are_deactivated(app, admin, partners):
    _deactivate(admin, partners["harbour"]["id"])
    page = admin.get("/admin/partners").get_data(as_text=True)
    harbour_row = page.split(f'id="partner-{partners["harbour"]["id"]}"')[1].split("</tr>")[0]
    northside_row = page.split(f'id="partner-{partners["northside"]["id"]}"')[1].split("</tr>")[0]
    assert "deactivated" in harbour_row and "deactivated" not in northside_row


def test_only_staff_admins_may_switch_a_partner_and_only_with_the_csrf_token(app, admin, partners, staff_client,
                                                                              partner_client):
    northside = partners["northside"]["id"]
    secretary = staff_client("secretary")
    assert _deactivate(secretary, northside).status_code == 403
    partner_admin = partner_client("northside", "partner_admin")
    assert _deactivate(partner_admin, northside).status_code == 403
    assert admin.post(f"/admin/partners/{northside}/deactivate").status_code == 400
    assert _deactivate(admin, 999999).status_code == 404
    assert partner_admin.get("/partner/users").status_code == 200  # nothing was switched
    assert _events(app, "partner.deactivated") == []
