"""The front desk's list on the staff's travel claims page: check-ins whose patients said some details
are wrong, marked "Updated" once, with the read and the change audited."""

import re

from sqlalchemy import select

from portal.checkin.models import CheckIn
from portal.extensions import db
from portal.security.models import AuditEvent
from tests.checkin.conftest import book_appointment


def wrong_emergency_contact(app, clinic, patient_id) -> int:
    appointment_id = book_appointment(app, clinic, patient_id)
    with app.app_context():
        record = CheckIn(appointment_id=appointment_id, patient_id=patient_id, contact_ok=True,
                         emergency_contact_ok=False, next_of_kin_ok=True, travel_answers={},
                         needs_front_desk=True, travel_outcome="not_offered")
        db.session.add(record)
        db.session.commit()
        return record.id


def test_the_desk_marks_a_check_in_updated_once_and_it_leaves_the_list(app, clinic, checkin_patient,
                                                                       staff_client):
    check_in_id = wrong_emergency_contact(app, clinic, checkin_patient)
    desk = staff_client("secretary")
    page = desk.get("/travel-claims").get_data(as_text=True)
    assert "Line Danser" in page and "emergency contact" in page
    assert f'action="/travel-claims/front-desk/{check_in_id}/done"' in page
    done = desk.post(f"/travel-claims/front-desk/{check_in_id}/done", data={"csrf_token": desk.csrf})
    assert done.status_code == 302 and done.headers["Location"] == "/travel-claims"
    after = desk.get("/travel-claims").get_data(as_text=True)
    assert "Nothing to update." in after and "Marked as updated." in after
    again = desk.post(f"/travel-claims/front-desk/{check_in_id}/done", data={"csrf_token": desk.csrf})
    assert again.status_code == 302
    assert "That was already done." in desk.get("/travel-claims").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CheckIn, check_in_id).front_desk_done_at is not None
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == checkin_patient)).all()
        assert actions.count("checkin.details_updated") == 1
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "checkin.front_desk_listed").limit(1))


def test_marking_needs_the_form_token_and_the_role(app, clinic, checkin_patient, staff_client):
    check_in_id = wrong_emergency_contact(app, clinic, checkin_patient)
    desk = staff_client("secretary")
    assert desk.post(f"/travel-claims/front-desk/{check_in_id}/done").status_code == 400
    doctor = staff_client("doctor")
    assert doctor.post(f"/travel-claims/front-desk/{check_in_id}/done",
                       data={"csrf_token": doctor.csrf}).status_code == 403
    assert not re.search(r"Line Danser", doctor.get("/travel-claims").get_data(as_text=True))
    with app.app_context():
        assert db.session.get(CheckIn, check_in_id).front_desk_done_at is None
