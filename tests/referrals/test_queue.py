"""The secretary's screening queue, through the test client on the real database and Redis."""

import threading

from sqlalchemy import func, select

from portal.consultations.models import Consultation
from portal.extensions import db
from portal.referrals.models import CallAttempt, Referral
from portal.security.models import AuditEvent
from tests.conftest import SEED_REFERRAL

HX = {"HX-Request": "true"}


def referral_payload(n: int, first="Pat", last=None, phone="+4791234567"):
    import random

    from portal.sandbox.referral_system import random_fodselsnummer

    return dict(SEED_REFERRAL, JournalGuid=f"00000000-0000-4000-8000-{n:012d}",
                PID=random_fodselsnummer(random.Random(n)), Firstname=first, Lastname=last or f"Number{n}",
                PhoneNumber=phone)


def post(c, url, data, htmx=True):
    return c.post(url, data={"csrf_token": c.csrf, **data}, headers=HX if htmx else {})


def first_referral_id(app):
    with app.app_context():
        return db.session.scalar(select(Referral.id).order_by(Referral.id))


def test_queue_needs_sign_in(client):
    response = client.get("/queue")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_doctors_may_not_screen(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    doctor = staff_client("doctor")
    assert doctor.get("/queue").status_code == 403
    assert doctor.get(f"/referrals/{first_referral_id(app)}").status_code == 403


def test_queue_lists_waiting_referrals_oldest_first(staff_client, post_referral):
    for n, name in enumerate(["Anna", "Berit", "Cecilie"]):
        post_referral(referral_payload(n, first=name))
    page = staff_client("secretary").get("/queue").get_data(as_text=True)
    assert page.index("Anna") < page.index("Berit") < page.index("Cecilie")
    assert 'href="tel:+4791234567"' in page
    assert "3 referrals waiting" in page


def test_flagged_phone_shows_check_number(staff_client, post_referral, seed_referral):
    post_referral(seed_referral)
    assert "check number" in staff_client("secretary").get("/queue").get_data(as_text=True)


def test_search_by_name_and_phone(staff_client, post_referral):
    post_referral(referral_payload(1, first="Anna", phone="+4791111111"))
    post_referral(referral_payload(2, first="Berit", phone="+4792222222"))
    secretary = staff_client("secretary")
    by_name = post(secretary, "/queue", {"q": "berit"}, htmx=False).get_data(as_text=True)
    assert "Berit" in by_name and "Anna" not in by_name
    by_phone = secretary.post("/queue", data={"csrf_token": secretary.csrf, "q": "911 11"},
                              headers={**HX, "HX-Target": "queue-list"}).get_data(as_text=True)
    assert "Anna" in by_phone and "Berit" not in by_phone
    assert "<html" not in by_phone  # htmx gets the list fragment only


def test_search_terms_never_go_into_urls(staff_client, post_referral):
    for n in range(27):
        post_referral(referral_payload(n, first="Berit"))
    secretary = staff_client("secretary")
    page = post(secretary, "/queue", {"q": "berit"}, htmx=False).get_data(as_text=True)
    assert "q=berit" not in page and "Page 1 of 2" in page
    second = post(secretary, "/queue", {"q": "berit", "page": "2"}).get_data(as_text=True)
    assert "Page 2 of 2" in second


def test_pagination_25_per_page(staff_client, post_referral):
    for n in range(27):
        post_referral(referral_payload(n, first=f"P{n:02d}"))
    secretary = staff_client("secretary")
    first = secretary.get("/queue").get_data(as_text=True)
    second = secretary.get("/queue?page=2").get_data(as_text=True)
    assert "Page 1 of 2" in first and "P24" in first and "P25" not in first
    assert "P25" in second and "P26" in second and "P00" not in second
    past_the_end = secretary.get("/queue?page=99").get_data(as_text=True)
    assert "Page 2 of 2" in past_the_end and "P26" in past_the_end
    assert "Page 2 of 2" in secretary.get("/queue?page=99999999999999999999").get_data(as_text=True)
    assert secretary.get("/queue?page=abc").status_code == 200


def test_poll_is_empty_until_something_changes(staff_client, post_referral):
    secretary = staff_client("secretary")
    page = secretary.get("/queue").get_data(as_text=True)
    import re

    since = re.search(r"/queue/poll\?since=(-?\d+)", page).group(1)
    assert post(secretary, f"/queue/poll?since={since}", {}).status_code == 204
    post_referral(referral_payload(7, first="Newcomer"))
    fresh = post(secretary, f"/queue/poll?since={since}", {})
    assert fresh.status_code == 200 and "Newcomer" in fresh.get_data(as_text=True)


def test_log_a_call_in_place(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    secretary = staff_client("secretary")
    rid = first_referral_id(app)
    response = post(secretary, f"/referrals/{rid}/calls", {"outcome": "voicemail", "note": "Left a message"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Call logged: Voicemail" in html and "Left a message" in html and "<html" not in html
    with app.app_context():
        assert db.session.get(Referral, rid).call_attempt_count == 1
        assert db.session.scalar(select(CallAttempt.note)) == "Left a message"


def test_call_without_outcome_shows_the_error_next_to_the_field(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    secretary = staff_client("secretary")
    response = post(secretary, f"/referrals/{first_referral_id(app)}/calls", {"outcome": "shouted"})
    assert response.status_code == 422
    assert 'id="outcome-error"' in response.get_data(as_text=True)


def test_create_consultation_from_referral(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    secretary = staff_client("secretary")
    rid = first_referral_id(app)
    response = post(secretary, f"/referrals/{rid}/consultation",
                    {"enabled_channels": ["VIDEO", "CHAT"], "primary_channel": "CHAT", "category": "insurance",
                     "interpreter_language": "Polish"})
    assert response.status_code == 200
    assert "created" in response.get_data(as_text=True)
    with app.app_context():
        consultation = db.session.scalar(select(Consultation))
        assert consultation.state == "ready_for_pickup" and consultation.source == "referral"
        assert consultation.enabled_channels == ["CHAT", "VIDEO"] and consultation.primary_channel == "CHAT"
        assert consultation.options == {"urgent": False, "interpreterLanguage": "Polish"}
        assert len(consultation.code) == 8
        assert db.session.get(Referral, rid).status == "converted"
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert {"referral.converted", "referral.viewed", "referral.queue_viewed"} & actions >= {"referral.converted"}
    assert "Number1" not in secretary.get("/queue").get_data(as_text=True)


def test_primary_channel_must_be_enabled(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    secretary = staff_client("secretary")
    response = post(secretary, f"/referrals/{first_referral_id(app)}/consultation",
                    {"enabled_channels": ["CHAT"], "primary_channel": "VIDEO", "category": "insurance"})
    assert response.status_code == 422
    assert "primary channel must be one of" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Consultation)) == 0


def test_decline_needs_a_reason_and_is_audited(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    secretary = staff_client("secretary")
    rid = first_referral_id(app)
    assert post(secretary, f"/referrals/{rid}/decline", {"reason": "nonsense"}).status_code == 422
    assert post(secretary, f"/referrals/{rid}/decline", {"reason": "not_covered"}).status_code == 200
    with app.app_context():
        referral = db.session.get(Referral, rid)
        assert referral.status == "declined" and referral.decline_reason == "Not covered by the insurance"
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "referral.declined"))


def test_second_secretary_sees_already_handled(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    first, second = staff_client("secretary", "one@test.example"), staff_client("secretary", "two@test.example")
    rid = first_referral_id(app)
    data = {"enabled_channels": ["VIDEO"], "primary_channel": "VIDEO", "category": "insurance"}
    assert post(first, f"/referrals/{rid}/consultation", data).status_code == 200
    late = post(second, f"/referrals/{rid}/consultation", data)
    assert late.status_code == 409 and "Already handled" in late.get_data(as_text=True)
    assert post(second, f"/referrals/{rid}/decline", {"reason": "duplicate"}).status_code == 409
    assert post(second, f"/referrals/{rid}/calls", {"outcome": "reached"}).status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Consultation)) == 1
        assert db.session.get(Referral, rid).status == "converted"


def test_simultaneous_conversions_make_one_consultation(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    rid = first_referral_id(app)
    clients = [staff_client("secretary", f"s{i}@test.example") for i in range(6)]
    data = {"enabled_channels": ["VIDEO"], "primary_channel": "VIDEO", "category": "insurance"}
    statuses, barrier = [], threading.Barrier(len(clients))

    def act(c):
        barrier.wait()
        statuses.append(post(c, f"/referrals/{rid}/consultation", data).status_code)

    threads = [threading.Thread(target=act, args=(c,)) for c in clients]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(statuses) == [200] + [409] * 5
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Consultation)) == 1


def test_actions_need_csrf(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    secretary = staff_client("secretary")
    response = secretary.post(f"/referrals/{first_referral_id(app)}/calls", data={"outcome": "reached"}, headers=HX)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CallAttempt)) == 0


def test_unknown_referral_is_404(staff_client):
    secretary = staff_client("secretary")
    assert secretary.get("/referrals/999999").status_code == 404
    assert post(secretary, "/referrals/999999/calls", {"outcome": "reached"}).status_code == 404


def test_full_page_actions_work_without_htmx(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    secretary = staff_client("secretary")
    rid = first_referral_id(app)
    response = post(secretary, f"/referrals/{rid}/calls", {"outcome": "reached"}, htmx=False)
    assert response.status_code == 302
    page = secretary.get(response.headers["Location"]).get_data(as_text=True)
    assert "<html" in page and "Call logged: Reached" in page


def test_viewing_a_referral_is_audited(staff_client, post_referral, app):
    post_referral(referral_payload(1))
    secretary = staff_client("secretary")
    rid = first_referral_id(app)
    secretary.get(f"/referrals/{rid}")
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "referral.viewed"))
        assert event.subject_id == str(rid) and event.actor_type == "staff" and event.patient_id is not None


def test_an_id_beyond_the_database_range_is_404_not_500(staff_client):
    secretary = staff_client("secretary")
    assert secretary.get("/referrals/99999999999999").status_code == 404
    assert post(secretary, "/referrals/99999999999999/decline", {"reason": "duplicate"}).status_code == 404


def test_the_count_stops_at_the_cap_as_the_doctors_queue_does(staff_client, post_referral, app, monkeypatch):
    from portal.referrals import services

    monkeypatch.setattr(services, "QUEUE_COUNT_CAP", 3)
    for n in range(5):
        post_referral(referral_payload(n, first=f"P{n:02d}"))
    secretary = staff_client("secretary")
    assert "More than 3 referrals waiting." in secretary.get("/queue").get_data(as_text=True)
    searched = post(secretary, "/queue", {"q": "P0"}, htmx=False).get_data(as_text=True)
    assert "More than 3 referrals waiting matching “P0”." in searched
    with app.test_request_context():
        page = services.screening_queue("", 9, 2)
        assert (page.total, page.more, page.pages, page.page, len(page.referrals)) == (3, True, 2, 2, 2)
