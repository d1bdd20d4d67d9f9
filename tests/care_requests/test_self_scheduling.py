"""The handoff token and the self-scheduling flow: eligible visits are booked through the booking
service, the rest go to the secretaries' triage queue, where they are booked or declined."""

from datetime import date, timedelta

from sqlalchemy import func, select

from portal.extensions import db, redis_client
from tests.care_requests.conftest import handoff as _handoff, start_visit as _start, visit_answers as _visit
from tests.conftest import DIARY_MONDAY, slot_ids


def _count(app, model, **where):
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session.scalar(query)


def test_token_in_the_url_is_opaque_and_carries_no_patient_data(app, partners, partner_client):
    client = partner_client("northside", "scheduler")
    token_url = _handoff(client, partners["northside"]["patient_id"])
    token = token_url.rsplit("/", 1)[1]
    assert len(token) >= 40 and str(partners["northside"]["patient_id"]) not in token.split("-")
    with app.app_context():
        assert 0 < redis_client().ttl(f"handoff:{token}") <= 600


def test_handoff_token_works_once(app, partners, partner_client):
    client = partner_client("northside", "scheduler")
    token_url = _handoff(client, partners["northside"]["patient_id"])
    assert client.get(token_url).status_code == 302
    reused = client.get(token_url)
    assert reused.status_code == 410
    assert "no longer valid" in reused.get_data(as_text=True)


def test_expired_handoff_token_gets_a_clear_page(app, partners, partner_client):
    client = partner_client("northside", "scheduler")
    token_url = _handoff(client, partners["northside"]["patient_id"])
    with app.app_context():
        redis_client().delete(f"handoff:{token_url.rsplit('/', 1)[1]}")  # what the TTL does after 10 minutes
    assert client.get(token_url).status_code == 410


def test_another_users_handoff_token_is_refused_and_left_for_its_owner(app, partners, partner_client):
    owner = partner_client("northside", "scheduler")
    token_url = _handoff(owner, partners["northside"]["patient_id"])
    colleague = partner_client("northside", "partner_admin")
    foreign = partner_client("harbour", "partner_admin")
    assert foreign.get(token_url).status_code == 410
    assert colleague.get(token_url).status_code == 410
    redeemed = owner.get(token_url)
    assert redeemed.status_code == 302 and redeemed.headers["Location"].endswith("/schedule")
    assert owner.get(token_url).status_code == 410  # single use, as before
    assert foreign.get(token_url).status_code == 410


def test_garbage_tokens_are_a_clear_page(app, partners, partner_client):
    client = partner_client("northside", "scheduler")
    assert client.get("/schedule/not-a-token").status_code == 410
    assert client.get("/schedule/" + "x" * 500).status_code == 410


def test_flow_without_a_redeemed_token_is_404(app, partners, partner_client):
    client = partner_client("northside", "scheduler")
    assert client.get("/schedule").status_code == 404


def test_handoff_is_logged_with_a_hash_never_the_token(app, partners, partner_client, caplog):
    from portal.care_requests.services import token_hash

    client = partner_client("northside", "scheduler")
    caplog.set_level("INFO", logger="portal.care_requests.services")
    token_url = _handoff(client, partners["northside"]["patient_id"])
    client.get(token_url)
    token = token_url.rsplit("/", 1)[1]
    assert token not in caplog.text
    assert caplog.text.count(token_hash(token)) == 2


def test_viewer_cannot_schedule(app, partners, partner_client):
    client = partner_client("northside", "viewer")
    response = client.post(f"/partner/patients/{partners['northside']['patient_id']}/schedule",
                           data={"csrf_token": client.csrf})
    assert response.status_code == 403


def test_eligible_visit_is_booked_into_a_free_slot_and_listed(app, partners, partner_client, diary_set_up):
    from portal.care_requests.models import CareRequest, CareRequestUser
    from portal.scheduling.models import Appointment, Slot

    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    form = client.get("/schedule")
    assert form.status_code == 200 and "Northsideson" in form.get_data(as_text=True)
    visit = _visit(diary_set_up["service_id"])
    slots = client.post("/schedule", data=dict(visit, csrf_token=client.csrf))
    assert slots.status_code == 200 and "Free times" in slots.get_data(as_text=True)
    first = slot_ids(app, diary_set_up["service_id"])[0]
    booked = client.post("/schedule/book", data=dict(visit, slot_id=first, csrf_token=client.csrf))
    assert booked.status_code == 302 and booked.headers["Location"] == "/partner/care-requests"
    listing = client.get("/partner/care-requests").get_data(as_text=True)
    assert "scheduled" in listing and ">7 Jan 2030, 09:00</time>" in listing
    with app.app_context():
        care_request = db.session.scalar(select(CareRequest).where(CareRequest.status == "scheduled"))
        assert care_request.appointment.slot_id == first
        assert db.session.get(Slot, first).status == "busy"
        assert care_request.reason == "Leg ulcer needs dressing"
        assert care_request.callback_phone == "+447700900456"
        assert db.session.scalar(select(func.count()).select_from(CareRequestUser)
                                 .where(CareRequestUser.care_request_id == care_request.id)) == 1
        assert db.session.scalar(select(Appointment.booked_by)) == \
            f"partner:{partners['northside']['users']['scheduler']}"


def test_slot_taken_meanwhile_shows_the_times_again_and_creates_nothing(app, partners, partner_client,
                                                                          diary_set_up):
    from portal.care_requests.models import CareRequest
    from portal.scheduling.services import block_slot

    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    first = slot_ids(app, diary_set_up["service_id"])[0]
    with app.app_context():
        block_slot(first)
    visit = _visit(diary_set_up["service_id"])
    response = client.post("/schedule/book", data=dict(visit, slot_id=first, csrf_token=client.csrf))
    assert response.status_code == 409
    assert "just taken" in response.get_data(as_text=True)
    assert _count(app, CareRequest, status="scheduled") == 0


def test_symptom_in_the_partners_rules_goes_to_triage(app, partners, partner_client, diary_set_up):
    from portal.care_requests.models import CareRequest
    from portal.partners.models import Partner

    with app.app_context():
        db.session.get(Partner, partners["northside"]["id"]).eligibility_rules = {"triage_symptoms": ["chest pain"]}
        db.session.commit()
    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    response = client.post("/schedule", data=dict(_visit(diary_set_up["service_id"], reason="Chest pain since noon"),
                                                  csrf_token=client.csrf))
    assert response.status_code == 302
    assert _count(app, CareRequest, status="triage", triage_reason="Symptom needs triage") == 1
    assert "went to triage" in client.get("/partner/care-requests").get_data(as_text=True)


def test_age_rule_goes_to_triage(app, partners, partner_client, diary_set_up):
    from portal.care_requests.models import CareRequest
    from portal.partners.models import Partner

    with app.app_context():
        db.session.get(Partner, partners["northside"]["id"]).eligibility_rules = {"triage_min_age": 60}
        db.session.commit()
    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    client.post("/schedule", data=dict(_visit(diary_set_up["service_id"]), csrf_token=client.csrf))
    assert _count(app, CareRequest, triage_reason="Age needs triage") == 1


def test_self_scheduling_flag_off_goes_straight_to_triage(app, partners, partner_client, diary_set_up):
    from portal.care_requests.models import CareRequest
    from portal.partners.models import Partner

    with app.app_context():
        db.session.get(Partner, partners["northside"]["id"]).self_scheduling = False
        db.session.commit()
    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    client.post("/schedule", data=dict(_visit(diary_set_up["service_id"]), csrf_token=client.csrf))
    assert _count(app, CareRequest, triage_reason="Self-scheduling is off for this partner") == 1


def test_no_free_slot_goes_to_triage(app, partners, partner_client, diary_set_up):
    from portal.care_requests.models import CareRequest

    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    later = (date.fromisoformat(DIARY_MONDAY) + timedelta(days=60)).isoformat()
    client.post("/schedule", data=dict(_visit(diary_set_up["service_id"], available_from=later),
                                       csrf_token=client.csrf))
    assert _count(app, CareRequest, triage_reason="No free slot") == 1


def test_cancel_returns_to_the_list_with_nothing_created(app, partners, partner_client, diary_set_up):
    from portal.care_requests.models import CareRequest

    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    before = _count(app, CareRequest)
    response = client.post("/schedule/cancel", data={"csrf_token": client.csrf})
    assert response.status_code == 302 and response.headers["Location"] == "/partner/care-requests"
    assert _count(app, CareRequest) == before
    assert client.get("/schedule").status_code == 404


def test_bad_visit_input_is_422_with_errors_never_500(app, partners, partner_client, diary_set_up):
    client = partner_client("northside", "scheduler")
    _start(client, partners["northside"]["patient_id"])
    for bad in ({"reason": ""}, {"service_id": "x"}, {"service_id": "999999"}, {"available_from": "31/31/2030"},
                {"callback_phone": "12"}, {"reason": "x" * 5000}):
        response = client.post("/schedule", data=dict(_visit(diary_set_up["service_id"]), **bad,
                                                      csrf_token=client.csrf))
        assert response.status_code == 422, bad
    for slot in ("abc", "99999999999", "-1", "", "9" * 400):  # 400 digits overflowed NumberRange (500)
        response = client.post("/schedule/book", data=dict(_visit(diary_set_up["service_id"]), slot_id=slot,
                                                           csrf_token=client.csrf))
        assert response.status_code == 422, slot
    response = client.post("/schedule/book", data=dict(_visit(diary_set_up["service_id"]), slot_id=2_000_000_000,
                                                       csrf_token=client.csrf))
    assert response.status_code == 409


def test_new_patient_is_validated_then_created_for_this_partner_only(app, partners, partner_client):
    from portal.care_requests.models import PartnerPatient
    from portal.patients.models import Patient

    client = partner_client("northside", "scheduler")
    before = _count(app, Patient)
    for bad in ({"first_name": ""}, {"birth_date": "2999-01-01"}, {"birth_date": "nope"}, {"phone": "abc"},
                {"first_name": "\u200b\u200d"}, {"last_name": "New\x00patient"}, {"last_name": "\u202eNewpatient"}):
        data = {"first_name": "Nia", "last_name": "Newpatient", "birth_date": "1990-02-03", "phone": "07700900789"}
        data.update(bad)
        assert client.post("/partner/patients", data=dict(data, csrf_token=client.csrf)).status_code == 422, bad
    assert _count(app, Patient) == before
    response = client.post("/partner/patients", data={"first_name": "Nia", "last_name": "Newpatient",
                                                      "birth_date": "1990-02-03", "phone": "07700900789",
                                                      "csrf_token": client.csrf})
    assert response.status_code == 302 and response.headers["Location"].startswith("/schedule/")
    assert _count(app, PartnerPatient, partner_id=partners["northside"]["id"]) == 2
    assert _count(app, PartnerPatient, partner_id=partners["harbour"]["id"]) == 1


def test_search_needs_two_characters_and_matches_birth_date_and_phone(app, partners, partner_client):
    client = partner_client("northside", "scheduler")
    short = client.post("/partner/patients/search", data={"q": "P", "csrf_token": client.csrf})
    assert short.status_code == 200 and "Northsideson" not in short.get_data(as_text=True)
    for q in ("1960-03-04", "900123", "pat north"):
        found = client.post("/partner/patients/search", data={"q": q, "csrf_token": client.csrf},
                            headers={"HX-Request": "true"})
        assert "Northsideson" in found.get_data(as_text=True), q
    weird = client.post("/partner/patients/search", data={"q": "%_\\'; drop", "csrf_token": client.csrf})
    assert weird.status_code == 200


def test_secretary_books_a_triaged_request_and_the_partner_sees_it(app, partners, partner_client, staff_client,
                                                                   diary_set_up):
    from portal.care_requests.models import CareRequest

    partner = partner_client("northside", "scheduler")
    _start(partner, partners["northside"]["patient_id"])
    later = (date.fromisoformat(DIARY_MONDAY) + timedelta(days=60)).isoformat()
    partner.post("/schedule", data=dict(_visit(diary_set_up["service_id"], available_from=later),
                                        csrf_token=partner.csrf))
    with app.app_context():
        care_request_id = db.session.scalar(select(CareRequest.id).where(CareRequest.triage_reason == "No free slot"))
    secretary = staff_client("secretary")
    queue = secretary.get("/triage").get_data(as_text=True)
    assert "+447700900456" in queue and "Northsideson" in queue
    assert secretary.get(f"/triage/{care_request_id}").status_code == 200
    first = slot_ids(app, diary_set_up["service_id"])[0]
    booked = secretary.post(f"/triage/{care_request_id}/book", data={"slot_id": first, "csrf_token": secretary.csrf})
    assert booked.status_code == 302
    again = secretary.post(f"/triage/{care_request_id}/book", data={"slot_id": first + 1,
                                                                    "csrf_token": secretary.csrf})
    assert again.status_code == 302
    with app.app_context():
        care_request = db.session.get(CareRequest, care_request_id)
        assert care_request.status == "booked" and care_request.appointment.slot_id == first
    detail = partner.get(f"/partner/care-requests/{care_request_id}").get_data(as_text=True)
    assert "booked" in detail and ">7 Jan 2030, 09:00</time>" in detail


def test_secretary_declines_a_triaged_request_once(app, partners, staff_client):
    from portal.care_requests.models import CareRequest

    secretary = staff_client("secretary")
    care_request_id = partners["northside"]["care_request_id"]
    assert secretary.post(f"/triage/{care_request_id}/decline", data={"csrf_token": secretary.csrf}).status_code == 302
    second = secretary.post(f"/triage/{care_request_id}/decline", data={"csrf_token": secretary.csrf},
                            follow_redirects=True)
    assert "already" in second.get_data(as_text=True)
    assert _count(app, CareRequest, id=care_request_id, status="declined") == 1
    assert secretary.post("/triage/2147483000/decline", data={"csrf_token": secretary.csrf}).status_code == 404


def test_booking_a_taken_slot_from_triage_keeps_the_request_in_triage(app, partners, staff_client, diary_set_up):
    from portal.care_requests.models import CareRequest
    from portal.scheduling.services import block_slot

    first = slot_ids(app, diary_set_up["service_id"])[0]
    with app.app_context():
        block_slot(first)
    secretary = staff_client("secretary")
    care_request_id = partners["northside"]["care_request_id"]
    secretary.post(f"/triage/{care_request_id}/book", data={"slot_id": first, "csrf_token": secretary.csrf})
    assert _count(app, CareRequest, id=care_request_id, status="triage") == 1


def test_triage_is_for_secretaries_and_admins_only(app, partners, staff_client, partner_client):
    assert staff_client("doctor").get("/triage").status_code == 403
    assert staff_client("admin").get("/triage").status_code == 200
    assert partner_client("northside", "partner_admin").get("/triage").status_code == 403


def test_a_handoff_token_is_redeemed_once_when_its_owner_and_others_race_for_it(app, partners):
    from concurrent.futures import ThreadPoolExecutor

    from portal.care_requests.services import issue_handoff, redeem_handoff

    with app.app_context():
        token = issue_handoff(partner_id=1, user_id=7, patient_id=3)

    def attempt(who):
        with app.app_context():
            return redeem_handoff(token, partner_id=who[0], user_id=who[1])

    attempts = [(1, 7), (2, 7), (1, 8)] * 6  # the owner six times, another tenant and a colleague between
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(attempt, attempts))
    assert [r["patient_id"] for r in results if r] == [3]
    assert all(r is None for r, who in zip(results, attempts) if who != (1, 7))
