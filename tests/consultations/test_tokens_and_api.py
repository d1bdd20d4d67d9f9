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
    assert claims["scopes"] == ["1"]
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
                    body["videoRoom"]["name"], True, f"Consultation/{cid}", "medisinsk arbeider")


def test_patient_gets_patient_tokens_owned_by_the_real_patient(app, started):
    doctor, cid, pid = started
    body = patient_client(app, cid).get(f"/api/consultations/{cid}").json
    secret, secret_id = chat_secret(app, cid)
    assert "serviceProviderJwt" not in body["chatRoom"] and "serviceProviderKey" not in body["videoRoom"]
    check_chat_claims(body["chatRoom"]["patientJwt"], secret, secret_id, cid, pid, owner=f"Patient/{pid}",
                      ttl=24 * 3600)
    check_video_key(body["videoRoom"]["patientKey"], app.config["VIDEO_KEY_SECRET"], body["videoRoom"]["name"],
                    False, f"Patient/{pid}", "medisinsk arbeider")


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
    expired = tokens.chat_jwt(consultation, room, for_doctor=False, scopes=["1"],
                              now=int(time.time()) - 2 * 24 * 3600)
    with pytest.raises(tokens.InvalidChatToken):
        tokens.verify_chat_jwt(expired, consultation, room)


def test_video_room_only_when_video_is_a_channel(app, app_ctx, sandbox):
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app, channels=("PHONE",), primary="PHONE")
    services.pick_consultation(load(cid), doctor_id=doctor)
    services.start_consultation(load(cid), doctor_id=doctor)
    assert db.session.scalar(select(VideoRoom).where(VideoRoom.consultation_id == cid)) is None
    assert services.chat_room_of(load(cid)) is not None


# -- our tokens beside the partner services' example tokens -------------------------------------------

def claims_of(token, secret=None):
    if secret is None:
        return jwt.decode(token, options={"verify_signature": False})
    return jwt.decode(token, secret, algorithms=["HS256"])


def shape(claims: dict) -> dict:
    """Each claim's value type, and for lists the types of their items."""
    return {name: (type(value), tuple(sorted({type(item).__name__ for item in value})) if isinstance(value, list)
                   else None) for name, value in claims.items()}


def test_our_chat_tokens_have_the_example_tokens_claims_and_value_types(app, started):
    from tests.consultations.partner_token_examples import CHAT_TOKEN

    doctor, cid, pid = started
    example = claims_of(CHAT_TOKEN)
    secret, _ = chat_secret(app, cid)
    ours = [claims_of(doctor_client(app).get(f"/api/consultations/{cid}").json["chatRoom"]["serviceProviderJwt"],
                      secret),
            claims_of(patient_client(app, cid).get(f"/api/consultations/{cid}").json["chatRoom"]["patientJwt"], secret)]
    for claims in ours:
        assert shape(claims) == shape(example)
        assert claims["scopes"] == example["scopes"] == ["1"]


def test_one_rooms_video_keys_share_d_and_u_and_differ_only_in_o_and_ud_like_the_examples(app, started):
    from tests.consultations.partner_token_examples import VIDEO_DOCTOR_KEY, VIDEO_PATIENT_KEY

    doctor, cid, pid = started
    secret = app.config["VIDEO_KEY_SECRET"]
    example_doctor, example_patient = claims_of(VIDEO_DOCTOR_KEY), claims_of(VIDEO_PATIENT_KEY)
    ours_doctor = claims_of(doctor_client(app).get(f"/api/consultations/{cid}").json["videoRoom"]["serviceProviderKey"],
                            secret)
    ours_patient = claims_of(patient_client(app, cid).get(f"/api/consultations/{cid}").json["videoRoom"]["patientKey"],
                             secret)
    assert shape(ours_doctor) == shape(example_doctor) and shape(ours_patient) == shape(example_patient)

    def differing(a, b):
        return {name for name in a if a[name] != b[name]} - {"iat"}  # issued a moment apart

    assert differing(example_doctor, example_patient) == {"o", "ud"}
    assert differing(ours_doctor, ours_patient) == {"o", "ud"}
    assert ours_doctor["u"] == example_doctor["u"] == "medisinsk arbeider"
    with app.app_context():
        room = db.session.scalar(select(VideoRoom).where(VideoRoom.consultation_id == cid))
        assert ours_doctor["d"] == room.key_uuid and uuid.UUID(room.key_uuid).version == 4
    # Asking again gives the same room identity, not a new one per key.
    again = claims_of(doctor_client(app).get(f"/api/consultations/{cid}").json["videoRoom"]["serviceProviderKey"],
                      secret)
    assert again["d"] == ours_doctor["d"]


def test_another_rooms_keys_carry_another_d(app, started, sandbox):
    doctor, cid, pid = started
    other = make_consultation(app, patient_id=pid)
    with app.app_context():
        services.pick_consultation(load(other), doctor_id=doctor)
        services.start_consultation(load(other), doctor_id=doctor)
        rooms = db.session.scalars(select(VideoRoom.key_uuid)).all()
    assert len(rooms) == 2 and len(set(rooms)) == 2


def test_scopes_and_room_label_are_settings():
    from portal.config import load_settings

    settings = load_settings({"INSTANCE_PATH": app_instance(), "CHAT_TOKEN_SCOPES": "1, 2",
                              "VIDEO_ROOM_LABEL": "helsepersonell", "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert settings["CHAT_TOKEN_SCOPES"] == ["1", "2"] and settings["VIDEO_ROOM_LABEL"] == "helsepersonell"
    defaults = load_settings({"INSTANCE_PATH": app_instance(), "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert defaults["CHAT_TOKEN_SCOPES"] == ["1"] and defaults["VIDEO_ROOM_LABEL"] == "medisinsk arbeider"


def app_instance() -> str:
    import os

    return os.environ["INSTANCE_PATH"]
