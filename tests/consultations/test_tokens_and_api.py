"""Chat JWTs and video keys in the seed's exact format, and who may read them through the API."""

import re
import time
import uuid

import jwt
import pytest
from sqlalchemy import select

from portal.consultations import services, tokens
from portal.consultations.models import ChatRoom, Consultation, VideoRoom
from portal.extensions import db
from portal.notifications.models import Notification
from tests.conftest import make_consultation, make_patient, make_staff, sign_in

HX = {"HX-Request": "true"}


def load(cid):
    return db.session.get(Consultation, cid, populate_existing=True)


@pytest.fixture
def started(app, sandbox):
    """A started consultation whose patient id differs from its consultation id."""
    doctor = make_staff(app, "doctor")
    make_patient(app, fnr="01018012371", last_name="Nordmann", email=None)
    pid = make_patient(app, fnr="15076500565", last_name="Hansen")
    cid = make_consultation(app, patient_id=pid)
    while cid == pid:  # the ids must differ, whatever the database's sequences say
        cid = make_consultation(app, patient_id=pid)
    with app.app_context():
        services.pick_consultation(load(cid), doctor_id=doctor)
        services.start_consultation(load(cid), doctor_id=doctor)
        assert cid != pid
    return doctor, cid, pid


def chat_secret(app, cid):
    with app.app_context():
        room = db.session.scalar(select(ChatRoom).where(ChatRoom.consultation_id == cid))
        return room.shared_secret, room.shared_secret_id


def check_chat_claims(token, secret, secret_id, cid, pid, owner, ttl):
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert set(claims) == {"iat", "exp", "iss", "jti", "scopes", "recipients", "join_team", "owner"}
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["exp"] - claims["iat"] == ttl
    assert claims["iss"] == secret_id
    assert uuid.UUID(claims["jti"]).version == 4
    assert claims["scopes"] == [3]
    assert claims["recipients"] == [f"Consultation/{cid}", f"Patient/{pid}"]
    assert claims["join_team"] is True
    assert claims["owner"] == owner


def check_video_key(key, secret, room_name, owner_flag, ud, label):
    claims = jwt.decode(key, secret, algorithms=["HS256"])
    assert set(claims) == {"r", "o", "ud", "u", "d", "iat"}
    assert claims["r"] == room_name and claims["o"] is owner_flag and claims["ud"] == ud and claims["u"] == label
    assert uuid.UUID(claims["d"]) and abs(claims["iat"] - time.time()) < 60


def patient_client(app, cid, last_name="Hansen", birth="1965-07-15"):
    """A browser that followed the SMS link and passed the identity check."""
    with app.app_context():
        text = db.session.scalar(select(Notification.body).where(Notification.consultation_id == cid,
                                                                 Notification.channel == "sms")
                                 .order_by(Notification.id.desc()))
    path = re.search(r"(/c/[A-Za-z0-9_-]+)", text).group(1)
    c = app.test_client()
    page = c.get(path).get_data(as_text=True)
    from tests.conftest import csrf_token_from

    response = c.post(path, data={"csrf_token": csrf_token_from(page), "last_name": last_name, "birth_date": birth})
    assert response.status_code == 302, response.get_data(as_text=True)
    c.csrf = csrf_token_from(c.get("/c/room").get_data(as_text=True))
    return c


def doctor_client(app, email="doctor@test.example"):
    c = app.test_client()
    assert sign_in(c, email).status_code == 302
    return c


def test_doctor_gets_doctor_tokens_with_every_claim(app, started):
    doctor, cid, pid = started
    body = doctor_client(app).get(f"/api/consultations/{cid}").json
    secret, secret_id = chat_secret(app, cid)
    assert "patientJwt" not in body["chatRoom"] and "patientKey" not in body["videoRoom"]
    check_chat_claims(body["chatRoom"]["serviceProviderJwt"], secret, secret_id, cid, pid,
                      owner=f"Consultation/{cid}", ttl=14 * 24 * 3600)
    check_video_key(body["videoRoom"]["serviceProviderKey"], app.config["VIDEO_KEY_SECRET"],
                    body["videoRoom"]["name"], True, f"Consultation/{cid}", "Test Doctor")


def test_patient_gets_patient_tokens_owned_by_the_real_patient(app, started):
    doctor, cid, pid = started
    body = patient_client(app, cid).get(f"/api/consultations/{cid}").json
    secret, secret_id = chat_secret(app, cid)
    assert "serviceProviderJwt" not in body["chatRoom"] and "serviceProviderKey" not in body["videoRoom"]
    check_chat_claims(body["chatRoom"]["patientJwt"], secret, secret_id, cid, pid, owner=f"Patient/{pid}",
                      ttl=24 * 3600)
    check_video_key(body["videoRoom"]["patientKey"], app.config["VIDEO_KEY_SECRET"], body["videoRoom"]["name"],
                    False, f"Patient/{pid}", "Line")


def test_api_uses_the_seed_field_names(app, started):
    doctor, cid, pid = started
    body = doctor_client(app).get(f"/api/consultations/{cid}").json
    assert set(body) == {"id", "patient", "serviceProvider", "source", "state", "videoRoom", "chatRoom",
                         "serviceProviderId", "enabledChannels", "primaryChannel", "category", "code", "options"}
    assert body["patient"] == {"id": pid, "name": "Line Hansen", "phoneNumber": "+4791234567"}
    assert body["serviceProvider"] == {"id": doctor, "fullName": "Test Doctor"}
    assert body["serviceProviderId"] == doctor and body["state"] == "in_progress" and len(body["code"]) == 8
    assert set(body["videoRoom"]) == {"name", "externalId", "serviceProviderKey"}
    assert set(body["chatRoom"]) == {"id", "serviceProviderJwt"}
    assert uuid.UUID(body["videoRoom"]["externalId"])
    assert re.fullmatch(rf"C-{body['code']}-[0-9a-f]+", body["videoRoom"]["name"])


def test_anyone_else_gets_404(app, started):
    doctor, cid, pid = started
    make_staff(app, "doctor", "other@test.example")
    make_staff(app, "secretary")
    assert app.test_client().get(f"/api/consultations/{cid}").status_code == 404
    assert doctor_client(app, "other@test.example").get(f"/api/consultations/{cid}").status_code == 404
    assert doctor_client(app, "secretary@test.example").get(f"/api/consultations/{cid}").status_code == 404
    assert doctor_client(app).get("/api/consultations/999999").status_code == 404
    assert doctor_client(app).get("/api/consultations/999999").mimetype == "application/problem+json"


def test_patient_of_one_consultation_cannot_read_another(app, started):
    doctor, cid, pid = started
    other = make_consultation(app, patient_id=pid)
    c = patient_client(app, cid)
    assert c.get(f"/api/consultations/{other}").status_code == 404


def test_keys_stop_after_finish(app, started):
    doctor, cid, pid = started
    patient = patient_client(app, cid)
    with app.app_context():
        services.finish_consultation(load(cid), doctor_id=doctor)
    body = patient.get(f"/api/consultations/{cid}").json
    assert body["state"] == "completed" and body["chatRoom"] is None and body["videoRoom"] is None


def test_chat_token_of_another_room_is_refused(app, app_ctx, started):
    doctor, cid, pid = started
    consultation = load(cid)
    room = db.session.scalar(select(ChatRoom).where(ChatRoom.consultation_id == cid))
    forged = jwt.encode({"iat": 1, "exp": int(time.time()) + 60, "iss": room.shared_secret_id, "jti": "x",
                         "owner": f"Patient/{pid}", "recipients": [f"Consultation/{cid}", f"Patient/{pid}"]},
                        "not the secret of this room, but long enough", algorithm="HS256")
    with pytest.raises(tokens.InvalidChatToken):
        tokens.verify_chat_jwt(forged, consultation, room)
    stranger = jwt.encode({"iat": 1, "exp": int(time.time()) + 60, "iss": room.shared_secret_id, "jti": "x",
                           "owner": "Patient/424242", "recipients": [f"Consultation/{cid}", f"Patient/{pid}"]},
                          room.shared_secret, algorithm="HS256")
    with pytest.raises(tokens.InvalidChatToken):
        tokens.verify_chat_jwt(stranger, consultation, room)
    expired = tokens.chat_jwt(consultation, room, for_doctor=False, now=int(time.time()) - 2 * 24 * 3600)
    with pytest.raises(tokens.InvalidChatToken):
        tokens.verify_chat_jwt(expired, consultation, room)


def test_video_room_only_when_video_is_a_channel(app, app_ctx, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app, channels=("PHONE",), primary="PHONE")
    services.pick_consultation(load(cid), doctor_id=doctor)
    services.start_consultation(load(cid), doctor_id=doctor)
    assert db.session.scalar(select(VideoRoom).where(VideoRoom.consultation_id == cid)) is None
    assert services.chat_room_of(load(cid)) is not None
