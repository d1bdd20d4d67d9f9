"""The doctors' queue and consultation page, through the test client."""

import re
import threading

from sqlalchemy import func, select

from portal.consultations.models import ChatMessage, Consultation
from portal.extensions import db
from portal.security.models import AuditEvent
from tests.conftest import make_consultation

HX = {"HX-Request": "true"}
PANEL = {**HX, "HX-Target": "consultation-panel"}


def post(c, url, data=None, headers=PANEL):
    return c.post(url, data={"csrf_token": c.csrf, **(data or {})}, headers=headers)


def state(app, cid):
    with app.app_context():
        return db.session.get(Consultation, cid).state


def test_queue_needs_consultation_staff(staff_client, client):
    assert client.get("/consultations").status_code == 302
    assert staff_client("reporting").get("/consultations").status_code == 403


def test_doctor_lands_on_the_queue_oldest_first_with_waiting_time(app, staff_client):
    first, second = make_consultation(app), make_consultation(app)
    doctor = staff_client("doctor")
    page = doctor.get("/consultations").get_data(as_text=True)
    assert page.index(f'consultation-row-{first}"') < page.index(f'consultation-row-{second}"')
    assert "under a minute" in page and "2 open consultations" in page
    assert 'href="/consultations"' in doctor.get("/consultations").get_data(as_text=True)  # nav link


def test_an_urgent_consultation_is_marked_in_the_queue(app, staff_client):
    plain, urgent = make_consultation(app), make_consultation(app)
    with app.app_context():
        db.session.get(Consultation, urgent).options = {"urgent": True, "interpreterLanguage": "Polish"}
        db.session.commit()
    page = staff_client("doctor").get("/consultations").get_data(as_text=True)
    row = {cid: page.split(f'consultation-row-{cid}"')[1].split("</tr>")[0] for cid in (plain, urgent)}
    assert 'class="badge warn"' in row[urgent] and 'class="badge warn"' not in row[plain]


def test_mine_and_unassigned_views(app, staff_client):
    a, b = make_consultation(app), make_consultation(app)
    doctor = staff_client("doctor")
    assert post(doctor, f"/consultations/{b}/pick").status_code == 200
    mine = doctor.get("/consultations?view=mine").get_data(as_text=True)
    unassigned = doctor.get("/consultations?view=unassigned").get_data(as_text=True)
    assert f"consultation-row-{b}" in mine and f"consultation-row-{a}" not in mine
    assert f"consultation-row-{a}" in unassigned and f"consultation-row-{b}" not in unassigned
    assert doctor.get("/consultations?view=<script>&page=abc").status_code == 200


def test_queue_poll_is_empty_until_something_changes(app, staff_client):
    doctor = staff_client("doctor")
    page = doctor.get("/consultations").get_data(as_text=True)
    since = re.search(r"/consultations/poll\?since=(-?\d+)", page).group(1)
    assert doctor.get(f"/consultations/poll?since={since}", headers=HX).status_code == 204
    cid = make_consultation(app)
    from portal import live
    from portal.consultations.services import QUEUE_TOPIC

    with app.app_context():
        live.bump(QUEUE_TOPIC)
    fresh = doctor.get(f"/consultations/poll?since={since}", headers=HX)
    assert fresh.status_code == 200 and f"consultation-row-{cid}" in fresh.get_data(as_text=True)


def test_converting_a_referral_refreshes_the_doctors_queue(app, staff_client, post_referral, seed_referral):
    doctor = staff_client("doctor")
    since = re.search(r"since=(-?\d+)", doctor.get("/consultations").get_data(as_text=True)).group(1)
    post_referral(seed_referral)
    secretary = staff_client("secretary")
    with app.app_context():
        from portal.referrals.models import Referral

        rid = db.session.scalar(select(Referral.id))
    post(secretary, f"/referrals/{rid}/consultation",
         {"enabled_channels": ["VIDEO"], "primary_channel": "VIDEO", "category": "insurance"}, headers=HX)
    assert doctor.get(f"/consultations/poll?since={since}", headers=HX).status_code == 200


def test_pick_from_the_list_without_htmx_goes_to_the_consultation(app, staff_client):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    response = post(doctor, f"/consultations/{cid}/pick", headers={})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/consultations/{cid}")
    page = doctor.get(response.headers["Location"]).get_data(as_text=True)
    assert "is yours" in page and "Start consultation" in page


def test_second_doctor_is_told_it_was_taken(app, staff_client):
    cid = make_consultation(app)
    first, second = staff_client("doctor", "d1@test.example"), staff_client("doctor", "d2@test.example")
    assert post(first, f"/consultations/{cid}/pick").status_code == 200
    late = post(second, f"/consultations/{cid}/pick")
    assert late.status_code == 409 and "cannot be picked" in late.get_data(as_text=True)
    assert second.get(f"/consultations/{cid}").status_code == 404  # now another doctor's


def test_doctors_picking_at_once_through_the_web(app, staff_client):
    cid = make_consultation(app)
    clients = [staff_client("doctor", f"w{i}@test.example") for i in range(5)]
    statuses, barrier = [], threading.Barrier(len(clients))

    def act(c):
        barrier.wait()
        statuses.append(post(c, f"/consultations/{cid}/pick").status_code)

    threads = [threading.Thread(target=act, args=(c,)) for c in clients]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(statuses) == [200] + [409] * 4


def test_whole_consultation_from_the_doctors_page(app, staff_client, sandbox):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    post(doctor, f"/consultations/{cid}/pick")
    started = post(doctor, f"/consultations/{cid}/start")
    html = started.get_data(as_text=True)
    assert started.status_code == 200 and "patient has been sent a link" in html
    assert "Open the video room" in html and 'name="chat_token"' in html and "<html" not in html
    token = re.search(r'name="chat_token" value="([^"]+)"', html).group(1)
    sent = post(doctor, f"/consultations/{cid}/chat", {"message": "Hello, how can I help?", "chat_token": token},
                headers=HX)
    assert sent.status_code == 200 and "Hello, how can I help?" in sent.get_data(as_text=True)
    finished = post(doctor, f"/consultations/{cid}/finish")
    assert "file the report" in finished.get_data(as_text=True) and 'list="icpc2-codes"' in finished.get_data(
        as_text=True)
    assert state(app, cid) == "completed"
    closed = post(doctor, f"/consultations/{cid}/chat", {"message": "one more", "chat_token": token}, headers=HX)
    assert closed.status_code == 409 and "chat is closed" in closed.get_data(as_text=True)


def test_chat_message_needs_a_valid_token_and_text(app, staff_client, sandbox):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    post(doctor, f"/consultations/{cid}/pick")
    post(doctor, f"/consultations/{cid}/start")
    bad = post(doctor, f"/consultations/{cid}/chat", {"message": "hi", "chat_token": "not-a-jwt"}, headers=HX)
    assert bad.status_code == 409 and "expired" in bad.get_data(as_text=True)
    empty = post(doctor, f"/consultations/{cid}/chat", {"message": "", "chat_token": "x"}, headers=HX)
    assert empty.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ChatMessage)) == 0


def test_chat_messages_are_sealed_in_the_database(app, staff_client, sandbox):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    post(doctor, f"/consultations/{cid}/pick")
    html = post(doctor, f"/consultations/{cid}/start").get_data(as_text=True)
    token = re.search(r'name="chat_token" value="([^"]+)"', html).group(1)
    post(doctor, f"/consultations/{cid}/chat", {"message": "Secret symptom", "chat_token": token}, headers=HX)
    with app.app_context():
        from sqlalchemy import text

        raw = db.session.execute(text("SELECT body FROM chat_messages")).scalar()
        assert "Secret symptom" not in raw and raw.startswith("k1:")


def test_starting_when_the_video_service_is_down_says_so(app, staff_client, sandbox):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    post(doctor, f"/consultations/{cid}/pick")
    sandbox.failures["video"] = "5xx"
    response = post(doctor, f"/consultations/{cid}/start")
    assert response.status_code == 503 and "did not answer" in response.get_data(as_text=True)
    assert state(app, cid) == "pending_sp"


def test_illegal_moves_answer_409(app, staff_client, sandbox):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    post(doctor, f"/consultations/{cid}/pick")
    response = post(doctor, f"/consultations/{cid}/finish")
    assert response.status_code == 409 and "cannot be finished" in response.get_data(as_text=True)


def test_another_doctor_cannot_open_or_start_a_taken_consultation(app, staff_client):
    cid = make_consultation(app)
    owner, other = staff_client("doctor", "d1@test.example"), staff_client("doctor", "d2@test.example")
    post(owner, f"/consultations/{cid}/pick")
    assert post(other, f"/consultations/{cid}/start").status_code == 404
    assert post(other, f"/consultations/{cid}/cancel", {"reason": "other"}).status_code == 404


def test_secretary_assigns_a_doctor_and_cancels(app, staff_client):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    secretary = staff_client("secretary")
    with app.app_context():
        from portal.security.models import StaffUser

        doctor_id = db.session.scalar(select(StaffUser.id).where(StaffUser.role == "doctor"))
    assert post(secretary, f"/consultations/{cid}/assign", {"doctor_id": "abc"}).status_code == 422
    assert post(secretary, f"/consultations/{cid}/assign", {"doctor_id": str(doctor_id)}).status_code == 200
    assert f"consultation-row-{cid}" in doctor.get("/consultations?view=mine").get_data(as_text=True)
    assert post(secretary, f"/consultations/{cid}/cancel", {"reason": "nonsense"}).status_code == 422
    assert post(secretary, f"/consultations/{cid}/cancel", {"reason": "duplicate"}).status_code == 200
    assert state(app, cid) == "cancelled"
    assert post(secretary, f"/consultations/{cid}/cancel", {"reason": "duplicate"}).status_code == 409


def test_actions_need_csrf(app, staff_client):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    assert doctor.post(f"/consultations/{cid}/pick", headers=PANEL).status_code == 400
    assert state(app, cid) == "ready_for_pickup"


def test_unknown_consultation_is_404(staff_client):
    doctor = staff_client("doctor")
    assert doctor.get("/consultations/999999").status_code == 404
    assert post(doctor, "/consultations/999999/pick").status_code == 404


def test_viewing_a_consultation_is_audited(app, staff_client):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    doctor.get(f"/consultations/{cid}")
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "consultation.viewed"))
        assert event.subject_id == str(cid) and event.patient_id is not None


def test_icpc2_picker_narrows_the_list(staff_client):
    doctor = staff_client("doctor")
    html = doctor.get("/consultations/icpc2?icpc2_code=tonsil").get_data(as_text=True)
    assert "R76 Tonsillitis" in html and "R74" not in html


def test_fields_carry_no_empty_aria_attributes(app, staff_client):
    cid = make_consultation(app)
    page = staff_client("secretary").get(f"/consultations/{cid}").get_data(as_text=True)
    assert 'aria-describedby="None"' not in page and 'aria-invalid="None"' not in page
    assert 'for="doctor_id"' in page and 'for="reason"' in page


def test_queue_rows_show_patient_doctor_and_the_right_links_and_the_read_is_audited(app, staff_client):
    a, b = make_consultation(app), make_consultation(app)
    doctor = staff_client("doctor", "rows@test.example")
    assert post(doctor, f"/consultations/{b}/pick").status_code == 200
    with app.app_context():
        from portal.security.models import StaffUser

        name = db.session.scalar(select(StaffUser.name).where(StaffUser.email == "rows@test.example"))
    page = doctor.get("/consultations").get_data(as_text=True)
    row_a = page[page.index(f'consultation-row-{a}"'):page.index(f'consultation-row-{b}"')]
    row_b = page[page.index(f'consultation-row-{b}"'):page.index("</tbody>")]
    assert "Line Danser" in row_a and "Ready for pickup" in row_a and "—" in row_a
    assert f'action="/consultations/{a}/pick"' in row_a and "Video" in row_a
    assert "Line Danser" in row_b and name in row_b and "Assigned, not started" in row_b
    assert f'href="/consultations/{b}"' in row_b and "/pick" not in row_b
    with app.app_context():
        viewed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "consultation.queue_viewed")
                                    .order_by(AuditEvent.id.desc())).first()
    assert viewed.details["consultation_ids"] == [a, b]
    # A secretary's rows open the panel beside the list.
    desk = staff_client("secretary").get("/consultations").get_data(as_text=True)
    assert f'hx-get="/consultations/{a}" hx-target="#consultation-panel"' in desk
