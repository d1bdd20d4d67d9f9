"""A patient with something of every kind in their history, made through the services where a flow
exists (referral, calls, consultations, report, booking) and as rows where the flow needs a clock or a
partner's sign-in (check-in, travel claim, care request)."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from tests.conftest import make_staff

DOCTOR_EMAIL = "doctor@test.example"
OTHER_DOCTOR_EMAIL = "other-doctor@test.example"


def staff_id(app, email: str) -> int:
    from portal.security.models import StaffUser

    with app.app_context():
        return db.session.scalar(select(StaffUser.id).where(StaffUser.email == email))


def add_messages(app, patient_id: int, count: int, created_at=None) -> None:
    """`count` text messages to the patient: history entries of the cheapest kind to make."""
    from portal.notifications import services as outbox

    with app.app_context():
        for n in range(count):
            message = outbox.queue_sms(to="+4712345678", text=f"Message {n}", kind="bench.message",
                                       patient_id=patient_id)
            if created_at:
                message.created_at = created_at
        db.session.commit()


@pytest.fixture
def history(app, post_referral, seed_referral, diary_set_up, sandbox):
    """Line Danser's record: a referral with two calls, the consultation made from it (completed by the
    doctor, report filed), a second consultation still in the queue, a cancelled third one, an appointment
    with a check-in and a travel claim, a partner's care request and the messages all that sent."""
    from portal.care_requests.models import CareRequest, PartnerPatient
    from portal.checkin.models import CheckIn
    from portal.consultations import results, services as consultations
    from portal.partners.models import Partner, PartnerUser
    from portal.referrals import services as referrals
    from portal.scheduling import services as scheduling
    from portal.scheduling.models import Slot
    from portal.travel_pay.models import TravelClaim

    secretary = make_staff(app, "secretary", "secretary@test.example")
    doctor = make_staff(app, "doctor", DOCTOR_EMAIL, "Dr. Ada Lind")
    make_staff(app, "doctor", OTHER_DOCTOR_EMAIL, "Dr. Other")
    response = post_referral(seed_referral)
    assert response.status_code == 201, response.get_data(as_text=True)
    referral_id = response.json["referral_id"]
    with app.app_context():
        referral = referrals.get_referral(referral_id)
        patient_id = referral.patient_id
        referrals.log_call_attempt(referral, outcome="no_answer", note="Rang twice", by_id=secretary)
        referrals.log_call_attempt(referral, outcome="reached", note="Prefers video", by_id=secretary)
        first = referrals.convert_to_consultation(referral, enabled_channels=["VIDEO", "CHAT"],
                                                  primary_channel="VIDEO", category="insurance", options={},
                                                  by_id=secretary)
        first_id = first.id
    with app.app_context():
        first = consultations.get_consultation(first_id)
        consultations.pick_consultation(first, doctor_id=doctor)
        consultations.start_consultation(consultations.get_consultation(first_id), doctor_id=doctor)
        consultations.finish_consultation(consultations.get_consultation(first_id), doctor_id=doctor)
        results.file_report(consultations.get_consultation(first_id), results.ReportIn(
            icpc2_code="R74", outcome="helped", notes="Viral sore throat; rest and fluids."), author_id=doctor)
        queued = consultations.create_consultation(patient_id=patient_id, source="referral",
                                                   enabled_channels=["PHONE"], primary_channel="PHONE")
        cancelled = consultations.create_consultation(patient_id=patient_id, source="referral",
                                                      enabled_channels=["CHAT"], primary_channel="CHAT")
        db.session.commit()
        queued_id, cancelled_id = queued.id, cancelled.id
        consultations.cancel_consultation(cancelled, reason="Duplicate consultation", by_id=secretary)

        slot = db.session.scalars(select(Slot).where(Slot.healthcare_service_id == diary_set_up["service_id"])
                                  .order_by(Slot.start)).first()
        appointment = scheduling.book_slot(slot.id, patient_id=patient_id, actor=("staff", str(secretary)),
                                           description="Dressing")
        appointment_id = appointment.id
        db.session.add(CheckIn(appointment_id=appointment_id, patient_id=patient_id, contact_ok=True,
                               emergency_contact_ok=True, next_of_kin_ok=False, needs_front_desk=True,
                               travel_answers={}, travel_outcome="queued",
                               checked_in_at=appointment.start - timedelta(minutes=10)))
        db.session.add(TravelClaim(patient_id=patient_id, appointment_id=appointment_id,
                                   appointment_date=date.fromisoformat("2030-01-07"), answers={}, status="filed",
                                   claim_number="TC-0042", claim_status="InProcess", max_attempts=3,
                                   next_attempt_at=datetime(2030, 1, 7, 21), idempotency_key="key-history-1"))
        partner = Partner(name="Northside Care", tenant="northside-h", idp_issuer="http://127.0.0.1/idp",
                          idp_client_id="x")
        db.session.add(partner)
        db.session.flush()
        author = PartnerUser(partner_id=partner.id, email="nurse@northside.example", role="scheduler")
        db.session.add(author)
        db.session.flush()
        db.session.add(PartnerPatient(partner_id=partner.id, patient_id=patient_id))
        care_request = CareRequest(partner_id=partner.id, patient_id=patient_id, status="triage",
                                   triage_reason="Chest pain needs a clinician", created_by_id=author.id)
        db.session.add(care_request)
        db.session.commit()
        ids = {"patient_id": patient_id, "referral_id": referral_id, "completed_id": first_id,
               "queued_id": queued_id, "cancelled_id": cancelled_id, "appointment_id": appointment_id,
               "care_request_id": care_request.id, "doctor_id": doctor, "secretary_id": secretary,
               "schedule_id": diary_set_up["schedule_id"]}
        db.session.remove()
    return ids
