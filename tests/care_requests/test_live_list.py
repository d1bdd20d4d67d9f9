"""The partner's care-request list updates by itself: a per-partner change counter in Redis that the
page polls; a triage decision moves only its own partner's counter."""

import re
import time

from portal.extensions import db
from tests.conftest import make_staff


def _since(html):
    return int(re.search(r'/partner/care-requests/poll\?since=(-?\d+)', html).group(1))


def _poll(client, since, tab="current"):
    return client.get(f"/partner/care-requests/poll?since={since}&tab={tab}", headers={"HX-Request": "true"})


def test_a_triage_decision_bumps_only_that_partners_list_and_the_poll_shows_the_new_status(
        app, partners, partner_client, staff_client):
    northside = partner_client("northside", "viewer")
    harbour = partner_client("harbour", "scheduler")
    north_since = _since(northside.get("/partner/care-requests?tab=past").get_data(as_text=True))
    harbour_since = _since(harbour.get("/partner/care-requests").get_data(as_text=True))
    assert _poll(northside, north_since, "past").status_code == 204
    assert _poll(harbour, harbour_since).status_code == 204

    secretary = staff_client("secretary")
    care_request_id = partners["northside"]["care_request_id"]
    assert secretary.post(f"/triage/{care_request_id}/decline",
                          data={"csrf_token": secretary.csrf}).status_code == 302

    fresh = _poll(northside, north_since, "past")
    body = fresh.get_data(as_text=True)
    assert fresh.status_code == 200
    assert f'id="care-request-{care_request_id}"' in body and "declined" in body
    assert _since(body) > north_since  # the next poll waits for the next change
    assert _poll(northside, _since(body), "past").status_code == 204
    assert _poll(harbour, harbour_since).status_code == 204  # harbour learned nothing


def test_the_current_tab_drops_a_request_once_the_secretary_declined_it(app, partners, partner_client,
                                                                         staff_client):
    northside = partner_client("northside", "viewer")
    care_request_id = partners["northside"]["care_request_id"]
    page = northside.get("/partner/care-requests").get_data(as_text=True)
    assert f'id="care-request-{care_request_id}"' in page
    secretary = staff_client("secretary")
    secretary.post(f"/triage/{care_request_id}/decline", data={"csrf_token": secretary.csrf})
    body = _poll(northside, _since(page)).get_data(as_text=True)
    assert f'id="care-request-{care_request_id}"' not in body


def test_a_booking_from_triage_bumps_the_partners_counter(app, partners, diary_set_up):
    from portal import live
    from portal.care_requests import services
    from portal.triage.services import book_from_triage
    from tests.conftest import slot_ids

    northside = partners["northside"]
    staff_id = make_staff(app, "secretary", "live-book@test.example")
    slot_id = slot_ids(app)[0]
    with app.app_context():
        topic = services.live_topic(northside["id"])
        before, other = live.version(topic), live.version(services.live_topic(partners["harbour"]["id"]))
        book_from_triage(northside["care_request_id"], slot_id, staff_id=staff_id)
        assert live.version(topic) == before + 1
        assert live.version(services.live_topic(partners["harbour"]["id"])) == other


def test_a_new_triage_request_bumps_the_partners_counter(app, partners):
    from portal import live
    from portal.care_requests import services
    from portal.partners.models import PartnerUser

    northside = partners["northside"]
    with app.app_context():
        user = db.session.get(PartnerUser, northside["users"]["scheduler"])
        before = live.version(services.live_topic(northside["id"]))
        services.send_to_triage(user, northside["patient_id"], service_id=None, reason="Cough", answers={},
                                callback_phone="+447700900123", why="No free slot")
        assert live.version(services.live_topic(northside["id"])) == before + 1


def test_polls_do_not_count_as_activity_for_the_idle_timeout(app, partners, partner_client):
    client = partner_client("northside", "viewer")
    since = _since(client.get("/partner/care-requests").get_data(as_text=True))
    an_hour_ago = time.time() - 60
    with client.session_transaction() as session:
        session["last_active"] = an_hour_ago
    assert _poll(client, since).status_code == 204
    with client.session_transaction() as session:
        assert session["last_active"] == an_hour_ago


def test_a_poll_with_a_nonsense_counter_gets_the_list_not_an_error(app, partners, partner_client):
    client = partner_client("northside", "viewer")
    for since in ("", "abc", "99999999999999999999"):
        response = client.get(f"/partner/care-requests/poll?since={since}&page=-3&tab=x")
        assert response.status_code == 200 and 'id="care-requests-live"' in response.get_data(as_text=True)


def test_a_poll_re_render_is_audited_with_the_care_request_ids(app, partners, partner_client):
    from sqlalchemy import select

    from portal.security.models import AuditEvent

    client = partner_client("northside", "viewer")
    _poll(client, -5)
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "care_request.list")).all()
        assert any(partners["northside"]["care_request_id"] in e.details["care_request_ids"] for e in events)


def test_staff_cannot_poll_a_partners_list(app, partners, staff_client):
    assert staff_client("admin").get("/partner/care-requests/poll?since=0").status_code == 403
