"""The video panel hands the participant key to the video service's join page in a POSTed form.

The sandbox stands in for the video service on loopback: it verifies the key (HS256 with
VIDEO_KEY_SECRET) and says whether it joined the doctor or the patient, and refuses anything else.
"""

import html
import re

import jwt
import requests

from tests.conftest import make_consultation, make_staff
from tests.consultations.conftest import check, start

JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def join_form(page: str):
    """(action, key) of the page's video form."""
    form = re.search(r'<form class="video-join" method="post" action="([^"]+)" target="_blank"[^>]*>(.*?)</form>',
                     page, re.S)
    assert form, "no video join form on the page"
    key = re.search(r'name="key" value="([^"]+)"', form.group(2)).group(1)
    assert 'name="csrf_token"' not in form.group(2)  # our CSRF token never leaves the portal
    return html.unescape(form.group(1)), key


def claims(app, key):
    return jwt.decode(key, app.config["VIDEO_KEY_SECRET"], algorithms=["HS256"])


def started(app, staff_client, client):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    path = start(app, cid, make_staff(app, "doctor"))
    assert check(client, path).status_code == 302
    return cid, doctor


def test_doctor_and_patient_pages_post_their_own_key_to_the_join_page(app, staff_client, client, sandbox):
    cid, doctor = started(app, staff_client, client)
    doctor_page = doctor.get(f"/consultations/{cid}").get_data(as_text=True)
    patient_page = client.get("/c/room").get_data(as_text=True)

    doctor_action, doctor_key = join_form(doctor_page)
    patient_action, patient_key = join_form(patient_page)
    room = claims(app, doctor_key)["r"]
    assert doctor_action == patient_action == f"{sandbox.url}/video/join/{room}"
    assert "?" not in doctor_action and "key" not in doctor_action
    assert claims(app, doctor_key)["o"] is True and claims(app, doctor_key)["ud"] == f"Consultation/{cid}"
    assert claims(app, patient_key)["o"] is False and claims(app, patient_key)["ud"].startswith("Patient/")

    # the patient's page carries no doctor's key at all (chat JWTs are the patient's too)
    for token in JWT_LIKE.findall(patient_page):
        try:
            assert claims(app, token)["o"] is False
        except jwt.InvalidSignatureError:
            pass  # a chat token, signed with the room's secret; its owner is checked in the token tests

    doctor_joins = requests.post(doctor_action, data={"key": doctor_key}, timeout=5)
    patient_joins = requests.post(patient_action, data={"key": patient_key}, timeout=5)
    assert doctor_joins.status_code == 200 and "Joined as the doctor" in doctor_joins.text
    assert patient_joins.status_code == 200 and "Joined as the patient" in patient_joins.text


def test_join_page_refuses_a_missing_forged_or_foreign_key(app, staff_client, client, sandbox):
    cid, doctor = started(app, staff_client, client)
    action, key = join_form(doctor.get(f"/consultations/{cid}").get_data(as_text=True))
    missing = requests.post(action, data={}, timeout=5)
    by_url = requests.get(action, params={"key": key}, timeout=5)  # a key in a URL is not accepted
    forged_key = jwt.encode(claims(app, key), "not-the-video-service-secret-but-long-enough", algorithm="HS256")
    forged = requests.post(action, data={"key": forged_key}, timeout=5)
    other_room = requests.post(action.rsplit("/", 1)[0] + "/C-OTHER-1234", data={"key": key}, timeout=5)
    garbage = requests.post(action, data={"key": "x" * 300}, timeout=5)
    assert missing.status_code == 400 and "no participant key" in missing.text
    assert by_url.status_code == 400 and "Joined" not in by_url.text
    assert forged.status_code == 403 and "not valid" in forged.text
    assert other_room.status_code == 403 and "another room" in other_room.text
    assert garbage.status_code == 403


def test_pages_allow_the_form_to_reach_only_the_video_service(app, staff_client, client, sandbox):
    cid, doctor = started(app, staff_client, client)
    csp = doctor.get(f"/consultations/{cid}").headers["Content-Security-Policy"]
    assert f"form-action 'self' {sandbox.url};" in csp
    assert "script-src 'self';" in csp


def test_no_video_form_before_the_consultation_starts(app, staff_client):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    page = doctor.get(f"/consultations/{cid}").get_data(as_text=True)
    assert 'class="video-join"' not in page
