"""The claim job against the sandbox's token service and claims API over loopback HTTP."""

from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import select

from portal.extensions import db, redis_client
from portal.notifications.models import Notification
from portal.travel_pay import services
from portal.travel_pay.agreement import CURRENT_VERSION
from portal.travel_pay.models import TravelClaim
from tests.checkin.conftest import book_appointment, make_checkin_patient, run_claim_jobs
from tests.conftest import run_notification_jobs

# Every answer "yes", and the agreement's current version accepted on the review page.
YES = {"contact": True, "emergency_contact": True, "next_of_kin": True, "file_now": True, "mileage_only": True,
       "own_vehicle": True, "home_address": True, "agreement": CURRENT_VERSION}


@contextmanager
def settings(app, **values):
    old = {k: app.config[k] for k in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(old)


def checked_in_claim(app, clinic, patient_id, minutes_from_now=20) -> int:
    """A patient checks in (through the check-in service) with a claim due now."""
    from portal.checkin.services import check_in
    from portal.scheduling.models import Appointment

    appointment_id = book_appointment(app, clinic, patient_id, minutes_from_now)
    with settings(app, TRAVEL_CLAIM_DELAY_SECONDS=0), app.app_context():
        check_in(db.session.get(Appointment, appointment_id), YES)
        claim_id = db.session.scalar(select(TravelClaim.id).where(TravelClaim.appointment_id == appointment_id))
        db.session.remove()
        return claim_id


def claim(app, claim_id) -> TravelClaim:
    with app.app_context():
        found = db.session.get(TravelClaim, claim_id)
        db.session.expunge(found)
        return found


def sms_texts(sandbox) -> list[str]:
    return [m["text"] for m in sandbox.sms]


def test_a_due_claim_is_filed_and_the_patient_gets_the_claim_number_and_portal_link(
        app, clinic, checkin_patient, travel_sandbox):
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.claim_number == "TC-0000001" and filed.attempts == 1
    assert filed.claim_status == "ClaimSubmitted" and filed.last_error is None
    assert filed.next_status_check_at is not None and filed.follow_until > filed.next_status_check_at
    run_notification_jobs(app)
    [text] = sms_texts(travel_sandbox)
    assert "TC-0000001" in text and "/travel/portal" in text
    counters = travel_sandbox.counters()
    assert counters["filings"] == 1 and counters["duplicates"] == 0 and counters["replays"] == 0


def test_a_norwegian_patient_is_texted_the_outcome_in_bokmal_by_the_worker(app, clinic, travel_sandbox):
    patient_id = make_checkin_patient(app, language="nb")
    checked_in_claim(app, clinic, patient_id)
    run_claim_jobs(app)
    run_notification_jobs(app)
    [text] = sms_texts(travel_sandbox)
    assert text.startswith("Reisekravet for timen din ") and "er sendt inn. Kravnummer TC-0000001." in text


def test_what_the_claims_api_receives(app, clinic, checkin_patient, travel_sandbox):
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    portal_page = requests.get(f"{travel_sandbox.url}/travel/portal", timeout=5).text
    assert f"patient {checkin_patient}" in portal_page
    with app.app_context():
        stored = db.session.get(TravelClaim, claim_id)
        assert stored.appointment.start.strftime("%Y-%m-%dT%H:%M") in portal_page


def test_system_errors_are_retried_until_the_claims_api_takes_the_claim(app, clinic, checkin_patient,
                                                                         travel_sandbox):
    travel_sandbox.set_mode(mode="fail", failures=2)
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    with settings(app, TRAVEL_CLAIM_RETRY_HOURS=0):
        run_claim_jobs(app)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.attempts == 3
    assert travel_sandbox.counters()["failures_served"] == 2 and travel_sandbox.counters()["filings"] == 1


def test_a_retry_waits_retry_hours_in_rqs_scheduler(app, clinic, checkin_patient, travel_sandbox):
    travel_sandbox.set_mode(mode="fail", failures=1)
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    waiting = claim(app, claim_id)
    assert waiting.status == "queued" and waiting.attempts == 1 and "503" in waiting.last_error
    assert (waiting.next_attempt_at - waiting.updated_at).total_seconds() == pytest.approx(3600, abs=2)
    with app.app_context():
        assert redis_client().zrange("rq:scheduled:claims", 0, -1) == [f"travel-claim-{claim_id}-2".encode()]


def test_after_the_last_attempt_the_claim_fails_the_patient_is_told_and_staff_can_resubmit(
        app, clinic, checkin_patient, travel_sandbox, staff_client):
    travel_sandbox.set_mode(mode="fail", failures=100)
    with settings(app, TRAVEL_CLAIM_RETRY_HOURS=0, TRAVEL_CLAIM_MAX_ATTEMPTS=3):
        claim_id = checked_in_claim(app, clinic, checkin_patient)
        run_claim_jobs(app)
    failed = claim(app, claim_id)
    assert failed.status == "failed" and failed.attempts == 3 and failed.claim_number is None
    run_notification_jobs(app)
    [text] = sms_texts(travel_sandbox)
    assert "could not file" in text and "after 3 attempts" in text and "/travel/portal" in text

    secretary = staff_client("secretary")
    page = secretary.get("/travel-claims?status=failed").get_data(as_text=True)
    assert "Line Danser" in page and "claims API answered 503" in page and "Re-submit" in page
    travel_sandbox.set_mode(mode="succeed")
    response = secretary.post(f"/travel-claims/{claim_id}/resubmit", data={"csrf_token": secretary.csrf},
                              headers={"HX-Request": "true"})
    assert response.status_code == 200 and f'id="claim-{claim_id}"' in response.get_data(as_text=True)
    again = secretary.post(f"/travel-claims/{claim_id}/resubmit", data={"csrf_token": secretary.csrf},
                           headers={"HX-Request": "true"})
    assert again.status_code == 409 and "Only a failed claim" in again.get_data(as_text=True)
    run_claim_jobs(app)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.attempts == 4 and filed.max_attempts == 3 + 5


def test_a_validation_error_is_not_retried_and_the_patient_is_told_what_happened(
        app, clinic, checkin_patient, travel_sandbox):
    travel_sandbox.set_mode(mode="validation", patient_id=str(checkin_patient))
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    rejected = claim(app, claim_id)
    assert rejected.status == "rejected" and rejected.attempts == 1
    assert rejected.last_error == "claims API refused the claim: unknown_patient"
    with app.app_context():
        assert redis_client().zcard("rq:scheduled:claims") == 0
    run_notification_jobs(app)
    [text] = sms_texts(travel_sandbox)
    assert "does not know you as a patient" in text and "/travel/portal" in text


def test_the_token_is_fetched_once_and_shared_until_it_expires(app, clinic, checkin_patient, travel_sandbox):
    checked_in_claim(app, clinic, checkin_patient)
    other = make_checkin_patient(app, fnr="01018012371", last_name="Nordmann")
    checked_in_claim(app, clinic, other, minutes_from_now=25)
    run_claim_jobs(app)
    assert travel_sandbox.counters()["tokens_issued"] == 1
    with app.app_context():
        assert 3400 < redis_client().ttl(services.TOKEN_KEY) <= 3540


def test_a_rejected_token_is_dropped_and_the_claim_retried(app, clinic, checkin_patient, travel_sandbox):
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    with app.app_context():
        redis_client().set(services.TOKEN_KEY, "not-a-valid-token", ex=600)
    with settings(app, TRAVEL_CLAIM_RETRY_HOURS=0):
        run_claim_jobs(app)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.attempts == 2


def test_a_rerun_after_the_api_filed_but_before_we_stored_it_replays_instead_of_filing_again(
        app, clinic, checkin_patient, travel_sandbox):
    from portal.travel_pay.clients import ClaimsApiClient

    claim_id = checked_in_claim(app, clinic, checkin_patient)
    with app.app_context():
        stored = db.session.get(TravelClaim, claim_id)
        payload = services._claim_payload(services._read_filing(claim_id))
        first = ClaimsApiClient(f"{travel_sandbox.url}/travel/claims").submit(
            services.access_token(), stored.idempotency_key, payload)
        db.session.remove()
    run_claim_jobs(app)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.claim_number == first.claim_number
    counters = travel_sandbox.counters()
    assert counters["filings"] == 1 and counters["replays"] == 1 and counters["duplicates"] == 0


def test_the_job_does_nothing_for_a_claim_already_filed_or_not_yet_due(app, clinic, checkin_patient,
                                                                       travel_sandbox):
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    with app.app_context():
        assert services.submit_claim(claim_id) == "nothing to do"
    later = book_appointment(app, clinic, make_checkin_patient(app, fnr="01018012371", last_name="Nordmann"), 30)
    with app.app_context():
        from portal.checkin.services import check_in
        from portal.scheduling.models import Appointment

        check_in(db.session.get(Appointment, later), YES)
        not_due = db.session.scalar(select(TravelClaim.id).where(TravelClaim.appointment_id == later))
        assert services.submit_claim(not_due) == "nothing to do"
    assert travel_sandbox.counters()["filings"] == 1


def test_the_sweep_recovers_a_claim_stuck_submitting_and_files_it_once(app, clinic, checkin_patient,
                                                                        travel_sandbox):
    from datetime import timedelta

    from portal.security.models import utcnow

    claim_id = checked_in_claim(app, clinic, checkin_patient)
    with app.app_context():
        redis_client().delete(f"rq:job:travel-claim-{claim_id}-1")
        redis_client().delete("rq:queue:claims")
        db.session.execute(TravelClaim.__table__.update().where(TravelClaim.id == claim_id).values(
            status="submitting", attempts=1, attempt_started_at=utcnow() - timedelta(minutes=10)))
        db.session.commit()
        assert services.sweep_travel_claims(stuck_after_seconds=60) == {"recovered": 1, "queued": 1}
        assert services.sweep_travel_claims(stuck_after_seconds=60) == {"recovered": 0, "queued": 0}
    run_claim_jobs(app)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.attempts == 2
    assert travel_sandbox.counters()["filings"] == 1


def test_outcome_messages_hold_no_patient_data_in_last_error(app, clinic, checkin_patient, travel_sandbox):
    travel_sandbox.set_mode(mode="fail", failures=1)
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    error = claim(app, claim_id).last_error
    assert "Danser" not in error and "+47" not in error and str(checkin_patient) not in error.split("503")[0]
    with app.app_context():
        assert db.session.scalar(select(Notification)) is None  # nothing told yet: it will be retried
