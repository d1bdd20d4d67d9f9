"""Secretaries work the open consultations: oldest first, assign a doctor, cancel with a reason."""

import re
import threading

from sqlalchemy import func, select

from portal.consultations import services
from portal.consultations.models import Consultation
from portal.extensions import db
from portal.notifications.models import Notification
from portal.security.models import AuditEvent
from tests.conftest import make_consultation, make_staff

HX = {"HX-Request": "true"}
PANEL = {**HX, "HX-Target": "consultation-panel"}


def post(c, url, data=None, headers=PANEL):
    return c.post(url, data={"csrf_token": c.csrf, **(data or {})}, headers=headers)


def load(app, cid):
    with app.app_context():
        consultation = db.session.get(Consultation, cid)
        return consultation.state, consultation.service_provider_id


def test_secretary_sees_open_consultations_oldest_first_with_waiting_time(app, staff_client):
    first, second = make_consultation(app), make_consultation(app)
    secretary = staff_client("secretary")
    page = secretary.get("/consultations").get_data(as_text=True)
    assert page.index(f'consultation-row-{first}"') < page.index(f'consultation-row-{second}"')
    assert "2 open consultations" in page and "under a minute" in page
    assert f'id="handle-{first}"' in page and "Assign or cancel" in page
    assert 'href="/consultations"' in page  # nav link
    assert "view=mine" not in page  # "mine" is a doctor's view
    assert 'id="consultation-panel"' in page
    assert staff_client("reporting").get("/consultations").status_code == 403


def test_the_panel_beside_the_list_assigns_and_the_doctor_sees_it(app, staff_client):
    cid = make_consultation(app)
    doctor = staff_client("doctor")
    doctor_id = make_staff(app, "doctor")
    secretary = staff_client("secretary")
    since = re.search(r"since=(-?\d+)", secretary.get("/consultations").get_data(as_text=True)).group(1)
    panel = secretary.get(f"/consultations/{cid}", headers=PANEL).get_data(as_text=True)
    assert panel.startswith('\n<article id="consultation-panel"') or panel.lstrip().startswith("<article")
    assert 'name="expected_doctor_id" type="hidden" value=""' in panel
    response = post(secretary, f"/consultations/{cid}/assign", {"doctor_id": doctor_id, "expected_doctor_id": ""})
    assert response.status_code == 200 and "Doctor assigned." in response.get_data(as_text=True)
    assert load(app, cid) == ("pending_sp", doctor_id)
    assert f"consultation-row-{cid}" in doctor.get("/consultations?view=mine").get_data(as_text=True)
    fresh = secretary.get(f"/consultations/poll?since={since}", headers=HX)
    assert fresh.status_code == 200 and "Test Doctor" in fresh.get_data(as_text=True)


def test_secretary_cancels_with_a_reason_and_the_patient_is_told(app, staff_client):
    cid = make_consultation(app)
    secretary = staff_client("secretary")
    refused = post(secretary, f"/consultations/{cid}/cancel", {"reason": ""})
    assert refused.status_code == 422 and load(app, cid)[0] == "ready_for_pickup"
    done = post(secretary, f"/consultations/{cid}/cancel", {"reason": "not_reached", "details": "Three calls"})
    assert done.status_code == 200 and "The patient is being told" in done.get_data(as_text=True)
    with app.app_context():
        consultation = db.session.get(Consultation, cid)
        assert consultation.state == "cancelled"
        assert consultation.cancel_reason == "The patient could not be reached: Three calls"
        kinds = set(db.session.scalars(select(Notification.kind).where(Notification.consultation_id == cid)))
        assert kinds == {"consultation.cancelled"}
    assert f"consultation-row-{cid}" not in secretary.get("/consultations").get_data(as_text=True)


def test_assigning_over_a_change_the_secretary_has_not_seen_is_refused(app, staff_client):
    cid = make_consultation(app)
    d1, d2 = make_staff(app, "doctor", "d1@test.example"), make_staff(app, "doctor", "d2@test.example")
    first, second = staff_client("secretary", "s1@test.example"), staff_client("secretary", "s2@test.example")
    assert post(first, f"/consultations/{cid}/assign", {"doctor_id": d1, "expected_doctor_id": ""}).status_code == 200
    late = post(second, f"/consultations/{cid}/assign", {"doctor_id": d2, "expected_doctor_id": ""})
    html = late.get_data(as_text=True)
    assert late.status_code == 409 and "someone else changed it" in html and "Test Doctor" in html
    assert load(app, cid) == ("pending_sp", d1)
    # the refreshed panel carries who holds it now, so a deliberate reassignment goes through
    assert f'name="expected_doctor_id" type="hidden" value="{d1}"' in html
    again = post(second, f"/consultations/{cid}/assign", {"doctor_id": d2, "expected_doctor_id": str(d1)})
    assert again.status_code == 200 and load(app, cid) == ("pending_sp", d2)


def test_two_secretaries_assigning_at_once_one_wins_the_other_is_told(app, staff_client):
    cid = make_consultation(app)
    doctors = [make_staff(app, "doctor", f"doc{i}@test.example") for i in range(4)]
    secretaries = [staff_client("secretary", f"sec{i}@test.example") for i in range(4)]
    answers, barrier = [], threading.Barrier(len(secretaries))

    def assign(c, doctor_id):
        barrier.wait()
        response = post(c, f"/consultations/{cid}/assign", {"doctor_id": doctor_id, "expected_doctor_id": ""})
        answers.append((response.status_code, doctor_id, response.get_data(as_text=True)))

    threads = [threading.Thread(target=assign, args=pair) for pair in zip(secretaries, doctors)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(status for status, _, _ in answers) == [200, 409, 409, 409]
    winner = next(doctor_id for status, doctor_id, _ in answers if status == 200)
    assert all("someone else changed it" in html for status, _, html in answers if status == 409)
    assert load(app, cid) == ("pending_sp", winner)
    with app.app_context():
        assigned = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(AuditEvent.action == "consultation.assigned"))
        invited = db.session.scalar(select(func.count()).select_from(Notification)
                                    .where(Notification.kind == "consultation.waiting"))
    assert assigned == 1 and invited == 2  # one SMS and one e-mail, once


def test_assigning_a_consultation_that_was_cancelled_meanwhile_says_so(app, app_ctx):
    secretary = make_staff(app, "secretary")
    doctor = make_staff(app, "doctor")
    cid = make_consultation(app)
    consultation = db.session.get(Consultation, cid)
    services.cancel_consultation(consultation, reason="Duplicate", by_id=secretary)
    try:
        services.assign_consultation(db.session.get(Consultation, cid), doctor_id=doctor, by_id=secretary,
                                     expected_doctor_id=None)
    except services.NotAllowedNow as exc:
        assert "it was cancelled" in str(exc)
    else:
        raise AssertionError("a cancelled consultation was assigned")
