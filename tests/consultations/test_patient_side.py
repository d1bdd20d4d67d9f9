"""The patient's side: link, identity check, waiting room, chat, review."""

import re
from datetime import timedelta

from sqlalchemy import select

from portal.consultations import services
from portal.consultations.models import Consultation, PatientLink, Review
from portal.extensions import db
from portal.notifications.models import Notification
from portal.security.models import AuditEvent
from tests.conftest import csrf_token_from, make_consultation, make_staff
from tests.consultations.conftest import HX, check, link_for, load, start


def test_link_needs_last_name_and_birth_date(app, client, sandbox):
    cid = make_consultation(app)
    path = link_for(app, cid)
    page = client.get(path).get_data(as_text=True)
    assert 'for="last_name"' in page and 'for="birth_date"' in page
    assert check(client, path, last_name="Someone").status_code == 422
    assert check(client, path, birth="1970-01-01").status_code == 422
    blank = check(client, path, last_name="  ")
    assert blank.status_code == 422 and "Enter your last name." in blank.get_data(as_text=True)  # as on check-in's
    assert client.get("/c/room").status_code == 404
    response = check(client, path, last_name="  danser ")
    assert response.status_code == 302 and response.headers["Location"].endswith("/c/room")
    assert "Waiting room" in client.get("/c/room").get_data(as_text=True)


def test_bad_input_on_the_check_never_500s(app, client):
    cid = make_consultation(app)
    path = link_for(app, cid)
    assert check(client, path, birth="13/11/1969").status_code == 422
    assert check(client, path, birth="").status_code == 422
    assert check(client, path, last_name="x" * 5000).status_code == 422
    assert client.post(path, data={}).status_code == 400  # no CSRF token


def test_five_failures_lock_the_link_for_15_minutes(app, client):
    cid = make_consultation(app)
    path = link_for(app, cid)
    for _ in range(4):
        assert check(client, path, last_name="Wrong").status_code == 422
    locked = check(client, path, last_name="Wrong")
    assert locked.status_code == 429 and "locked for 15 minutes" in locked.get_data(as_text=True)
    assert check(app.test_client(), path).status_code == 429  # even with the right answer, from anywhere
    assert check(app.test_client(), link_for(app, cid)).status_code == 429  # and with a new link
    with app.app_context():
        from portal.extensions import redis_client

        link = db.session.scalar(select(PatientLink))
        assert 14 * 60 < redis_client().ttl(f"patient-check:{link.consultation_id}:{link.patient_id}") <= 15 * 60


def test_unknown_or_expired_link_is_404(app, client):
    assert client.get("/c/not-a-real-token").status_code == 404
    assert client.get("/c/" + "x" * 500).status_code == 404
    cid = make_consultation(app)
    path = link_for(app, cid)
    with app.app_context():
        link = db.session.scalar(select(PatientLink))
        link.expires_at = link.expires_at - timedelta(days=30)
        db.session.commit()
    assert client.get(path).status_code == 404


def test_link_token_is_stored_only_as_a_hash(app):
    cid = make_consultation(app)
    raw = link_for(app, cid).rsplit("/", 1)[1]
    with app.app_context():
        assert db.session.scalar(select(PatientLink.token_hash)) != raw
        assert services.find_patient_link(raw).consultation_id == cid


def test_waiting_room_changes_by_itself_when_the_doctor_starts(app, client, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    check(client, link_for(app, cid))
    page = client.get("/c/room").get_data(as_text=True)
    since = re.search(r"/c/room/poll\?since=(-?\d+)", page).group(1)
    assert client.get(f"/c/room/poll?since={since}", headers=HX).status_code == 204
    start(app, cid, doctor)
    fresh = client.get(f"/c/room/poll?since={since}", headers=HX)
    html = fresh.get_data(as_text=True)
    assert fresh.status_code == 200 and "Your doctor is here" in html and "Join the video call" in html
    assert 'name="chat_token"' in html and "<html" not in html


def test_patient_and_doctor_chat_both_ways(app, client, sandbox, staff_client):
    doctor_client = staff_client("doctor")
    with app.app_context():
        from portal.security.models import StaffUser

        doctor = db.session.scalar(select(StaffUser.id).where(StaffUser.role == "doctor"))
    cid = make_consultation(app)
    path = start(app, cid, doctor)
    check(client, path)
    room = client.get("/c/room").get_data(as_text=True)
    token = re.search(r'name="chat_token" value="([^"]+)"', room).group(1)
    csrf = csrf_token_from(room)
    sent = client.post("/c/room/chat", data={"csrf_token": csrf, "chat_token": token, "message": "I have a cough"},
                       headers=HX)
    assert sent.status_code == 200 and "I have a cough" in sent.get_data(as_text=True)
    doctor_page = doctor_client.get(f"/consultations/{cid}").get_data(as_text=True)
    assert "I have a cough" in doctor_page
    doctor_token = re.search(r'name="chat_token" value="([^"]+)"', doctor_page).group(1)
    doctor_client.post(f"/consultations/{cid}/chat", data={"csrf_token": doctor_client.csrf,
                                                         "chat_token": doctor_token, "message": "Since when?"},
                       headers=HX)
    since = re.search(r"/c/room/chat\?since=(-?\d+)", sent.get_data(as_text=True)).group(1)
    polled = client.get(f"/c/room/chat?since={since}", headers=HX)
    assert polled.status_code == 200 and "Since when?" in polled.get_data(as_text=True)
    # A patient cannot post with the doctor's token, nor the doctor with the patient's.
    assert client.post("/c/room/chat", data={"csrf_token": csrf, "chat_token": doctor_token, "message": "x"},
                       headers=HX).status_code == 409
    assert doctor_client.post(f"/consultations/{cid}/chat", data={"csrf_token": doctor_client.csrf,
                                                                "chat_token": token, "message": "x"},
                              headers=HX).status_code == 409


def test_after_finish_the_patient_goes_to_review_and_chat_is_read_only(app, client, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    path = start(app, cid, doctor)
    check(client, path)
    room = client.get("/c/room").get_data(as_text=True)
    since = re.search(r"/c/room/poll\?since=(-?\d+)", room).group(1)
    token = re.search(r'name="chat_token" value="([^"]+)"', room).group(1)
    with app.app_context():
        services.finish_consultation(load(cid), doctor_id=doctor)
    polled = client.get(f"/c/room/poll?since={since}", headers=HX)
    assert polled.headers["HX-Redirect"].endswith("/c/review")
    assert client.get("/c/room").headers["Location"].endswith("/c/review")
    refused = client.post("/c/room/chat", data={"csrf_token": csrf_token_from(room), "chat_token": token,
                                                "message": "hello?"}, headers=HX)
    assert refused.status_code == 409
    review = client.get("/c/review").get_data(as_text=True)
    assert "rating" in review and 'name="chat_token"' not in review


def test_review_rating_1_to_5_once(app, client, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    path = start(app, cid, doctor)
    check(client, path)
    with app.app_context():
        services.finish_consultation(load(cid), doctor_id=doctor)
    csrf = csrf_token_from(client.get("/c/review").get_data(as_text=True))
    assert client.post("/c/review", data={"csrf_token": csrf, "rating": "9"}).status_code == 422
    assert client.post("/c/review", data={"csrf_token": csrf, "rating": "5", "comment": "Kind doctor"}
                       ).status_code == 302
    assert "Thank you for your review" in client.get("/c/review").get_data(as_text=True)
    client.post("/c/review", data={"csrf_token": csrf, "rating": "1"})
    with app.app_context():
        reviews = db.session.scalars(select(Review)).all()
        assert [(r.rating, r.comment) for r in reviews] == [(5, "Kind doctor")]


def test_review_before_completion_sends_back_to_the_room(app, client):
    cid = make_consultation(app)
    check(client, link_for(app, cid))
    assert client.get("/c/review").headers["Location"].endswith("/c/room")


def test_completion_mail_carries_a_link_back_to_the_review(app, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    start(app, cid, doctor)
    with app.app_context():
        services.finish_consultation(load(cid), doctor_id=doctor)
        body = db.session.scalar(select(Notification.body).where(Notification.kind == "consultation.completed"))
    path = re.search(r"(/c/[A-Za-z0-9_-]+)", body).group(1)
    c = app.test_client()
    assert check(c, path).status_code == 302
    assert c.get("/c/room").headers["Location"].endswith("/c/review")


def test_patient_reads_are_audited_as_the_patient(app, client):
    cid = make_consultation(app)
    check(client, link_for(app, cid))
    client.get("/c/room")
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "consultation.patient_viewed"))
        assert event.actor_type == "patient" and event.subject_id == str(cid)


def test_phone_consultation_shows_the_number_the_doctor_will_call(app, client, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app, channels=("PHONE", "CHAT"), primary="PHONE")
    path = start(app, cid, doctor)
    check(client, path)
    page = client.get("/c/room").get_data(as_text=True)
    assert "+4791234567" in page and "Join the video call" not in page


def test_cancelled_consultation_tells_the_patient(app, client):
    secretary = make_staff(app, "secretary")
    cid = make_consultation(app)
    check(client, link_for(app, cid))
    with app.app_context():
        services.cancel_consultation(load(cid), reason="Duplicate", by_id=secretary)
    assert "was cancelled" in client.get("/c/room").get_data(as_text=True)


def test_junk_in_urls_and_forms_never_500s(app, client, staff_client):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    # Junk parameters fall back to defaults; the chat of a consultation not theirs and ids that are
    # not ids are not found.
    for url, status in [("/consultations/poll?since=abc&view=%00&page=-5", 200),
                        ("/consultations?page=99999999999999999999", 200), (f"/consultations/{cid}/chat?since=zz", 404),
                        ("/consultations/icpc2?icpc2_code=" + "%FF" * 50, 200), ("/api/consultations/abc", 404),
                        ("/api/consultations/-1", 404)]:
        assert doctor.get(url, headers=HX).status_code == status, url
    for url in ["/c/room", "/c/room/poll?since=x", "/c/room/chat", "/c/review", "/api/consultations/1"]:
        assert client.get(url).status_code == 404, url
    assert client.post("/c/room/chat", data={"message": "x"}).status_code == 400  # no CSRF token: refused first
    check(client, link_for(app, cid))
    assert client.post("/c/room/chat", data={"csrf_token": csrf_token_from(client.get("/c/room").get_data(
        as_text=True)), "chat_token": "", "message": "\x00" * 3000}, headers=HX).status_code == 422


def in_progress_chat(app, client, staff_client):
    """A started consultation with the patient in its room: (consultation id, room page, doctor's client)."""
    doctor_client = staff_client("doctor")
    with app.app_context():
        from portal.security.models import StaffUser

        doctor = db.session.scalar(select(StaffUser.id).where(StaffUser.role == "doctor"))
    cid = make_consultation(app)
    check(client, start(app, cid, doctor))
    return cid, client.get("/c/room").get_data(as_text=True), doctor_client


def chat_reads(app) -> list[tuple[str, int]]:
    """Who read the chat, in order: (actor type, patient id) of every consultation.chat_read event."""
    with app.app_context():
        return [(e.actor_type, e.patient_id) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "consultation.chat_read").order_by(AuditEvent.id))]


def test_the_conversation_sent_back_after_a_chat_message_is_an_audited_read(app, client, sandbox, staff_client):
    cid, room, doctor_client = in_progress_chat(app, client, staff_client)
    token = re.search(r'name="chat_token" value="([^"]+)"', room).group(1)

    before = chat_reads(app)
    sent = client.post("/c/room/chat", data={"csrf_token": csrf_token_from(room), "chat_token": token,
                                             "message": "I have a cough"}, headers=HX)
    assert sent.status_code == 200 and "I have a cough" in sent.get_data(as_text=True)
    with app.app_context():
        patient_id = db.session.get(Consultation, cid).patient_id
    assert chat_reads(app) == before + [("patient", patient_id)]
    doctor_page = doctor_client.get(f"/consultations/{cid}").get_data(as_text=True)
    doctor_token = re.search(r'name="chat_token" value="([^"]+)"', doctor_page).group(1)
    before = chat_reads(app)
    answered = doctor_client.post(f"/consultations/{cid}/chat", data={
        "csrf_token": doctor_client.csrf, "chat_token": doctor_token, "message": "Since when?"}, headers=HX)
    assert answered.status_code == 200 and "I have a cough" in answered.get_data(as_text=True)
    assert chat_reads(app) == before + [("staff", patient_id)]


def chat_cursor(html: str) -> tuple[str, str]:
    """The (since, after) the page's chat poller sends next."""
    found = re.search(r"/c/room/chat\?since=(-?\d+)&amp;after=(\d+)", html)
    return found.group(1), found.group(2)


def test_chat_answers_carry_only_the_messages_the_page_does_not_have(app, client, sandbox, staff_client):
    cid, room, doctor_client = in_progress_chat(app, client, staff_client)
    token, csrf = re.search(r'name="chat_token" value="([^"]+)"', room).group(1), csrf_token_from(room)
    assert "No messages yet." in room and chat_cursor(room)[1] == "0"

    first = client.post("/c/room/chat", data={"csrf_token": csrf, "chat_token": token, "message": "I have a cough",
                                              "after": "0"}, headers=HX).get_data(as_text=True)
    # The first message takes the page's "No messages yet." away.
    assert "I have a cough" in first and 'id="chat-empty" hx-swap-oob="delete"' in first
    since, after = chat_cursor(first)
    doctor_page = doctor_client.get(f"/consultations/{cid}").get_data(as_text=True)
    doctor_token = re.search(r'name="chat_token" value="([^"]+)"', doctor_page).group(1)
    doctor_after = re.search(r'name="after" value="(\d+)"', doctor_page).group(1)
    answer = doctor_client.post(f"/consultations/{cid}/chat", data={
        "csrf_token": doctor_client.csrf, "chat_token": doctor_token, "message": "Since when?", "after": doctor_after},
        headers=HX).get_data(as_text=True)
    assert "Since when?" in answer and "I have a cough" not in answer and "chat-empty" not in answer

    reads = len(chat_reads(app))
    polled = client.get(f"/c/room/chat?since={since}&after={after}", headers=HX)
    html = polled.get_data(as_text=True)
    assert polled.status_code == 200 and "Since when?" in html and "I have a cough" not in html
    assert len(chat_reads(app)) == reads + 1  # the batch sent out is an audited read
    since, after = chat_cursor(html)
    assert client.get(f"/c/room/chat?since={since}&after={after}", headers=HX).status_code == 204
    # A page that has everything already gets no messages and no audit event, only its cursor moved on.
    another = client.post("/c/room/chat", data={"csrf_token": csrf, "chat_token": token, "message": "Two days",
                                                 "after": after}, headers=HX).get_data(as_text=True)
    assert "Two days" in another and "Since when?" not in another
    reads = len(chat_reads(app))
    caught_up = client.get(f"/c/room/chat?since={since}&after={chat_cursor(another)[1]}", headers=HX)
    assert caught_up.status_code == 200 and 'class="msg' not in caught_up.get_data(as_text=True)
    assert chat_cursor(caught_up.get_data(as_text=True)) == chat_cursor(another)
    assert len(chat_reads(app)) == reads
    # Without `after` (or with junk) the whole conversation comes, in order.
    whole = client.get("/c/room/chat?after=-5", headers=HX).get_data(as_text=True)
    assert whole.index("I have a cough") < whole.index("Since when?") < whole.index("Two days")
    assert client.get(f"/c/room/chat?after={2**40}", headers=HX).status_code == 200
