"""The patient's check-in through the real pages: link, identity, questions, check in, confirmation."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.checkin.models import CheckIn
from portal.extensions import db, redis_client
from portal.security.models import AuditEvent
from portal.travel_pay.models import TravelClaim
from tests.checkin.conftest import (
    BIRTH_DATE,
    book_appointment,
    make_checkin_patient,
    new_link,
    redis_unreachable,
    set_up_clinic,
)
from tests.conftest import csrf_token_from

# `file_now`: the travel ask ("yes" or "later"); `agreement`: the review's button ("file" or "later"),
# with the agreement's box ticked unless `agree` is False.
ALL_YES = {"contact": "yes", "emergency_contact": "yes", "next_of_kin": "yes", "file_now": "yes",
           "mileage_only": "yes", "own_vehicle": "yes", "home_address": "yes", "agreement": "file"}


def sign_in(client, raw: str, last_name: str = "Danser", birth_date: str = BIRTH_DATE):
    page = client.get(f"/checkin/{raw}")
    assert page.status_code == 200
    return client.post(f"/checkin/{raw}", data={"last_name": last_name, "birth_date": birth_date,
                                                "csrf_token": csrf_token_from(page.get_data(as_text=True))})


def answer_all(client, appointment_id: int, answers: dict) -> str:
    """Follow the appointment page through its steps; returns the page reached at the end (the
    appointment page, or the page a travel "no" or "file later" leads to, or the step whose answer is None)."""
    url = f"/checkin/appointments/{appointment_id}"
    for _ in range(40):
        response = client.get(url)
        if response.status_code == 302:
            url = response.headers["Location"]
            continue
        html = response.get_data(as_text=True)
        if url.endswith("/travel-pay"):
            data = {"answer": answers["file_now"]}
        elif url.endswith("/travel-pay/review"):
            data = {"action": answers["agreement"], **({"agree": "y"} if answers.get("agree", True) else {})}
        elif "/questions/" in url:
            data = {"answer": answers[url.rsplit("/", 1)[-1]]}
        else:
            return html
        if None in data.values():
            return html
        posted = client.post(url, data={**data, "csrf_token": csrf_token_from(html)})
        if posted.status_code != 302:
            return posted.get_data(as_text=True)
        url = posted.headers["Location"]
        if url.endswith("/travel") or url.endswith("/travel-pay/later"):
            return client.get(url).get_data(as_text=True)
    raise AssertionError("check-in did not end")


def press_check_in(client, appointment_id: int):
    page = client.get(f"/checkin/appointments/{appointment_id}")
    response = client.post(f"/checkin/appointments/{appointment_id}/check-in",
                            data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    return response


def check_in_fully(client, raw, appointment_id, answers=ALL_YES) -> str:
    assert sign_in(client, raw).status_code == 302
    answer_all(client, appointment_id, answers)
    response = press_check_in(client, appointment_id)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_patient_answering_yes_to_everything_gets_a_travel_claim_queued_for_24_hours_after(
        app, client, clinic, checkin_patient):
    appointment_id = book_appointment(app, clinic, checkin_patient, minutes_from_now=20)
    raw = new_link(app, checkin_patient)
    assert sign_in(client, raw).headers["Location"].endswith("/checkin/appointments")
    listing = client.get("/checkin/appointments").get_data(as_text=True)
    assert "Riverside Health Centre" in listing and "Start check-in" in listing
    question = client.get(f"/checkin/appointments/{appointment_id}/questions/contact").get_data(as_text=True)
    assert "+4791234567" in question and "Is your contact information correct?" in question
    address = client.get(f"/checkin/appointments/{appointment_id}/questions/home_address").get_data(as_text=True)
    assert "1 Fjord Road" in address
    final = answer_all(client, appointment_id, ALL_YES)
    assert "Check in</button>" in final
    done = client.get(press_check_in(client, appointment_id).headers["Location"]).get_data(as_text=True)
    assert "stored and queued" in done
    with app.app_context():
        claim = db.session.scalar(select(TravelClaim))
        assert claim.status == "queued" and claim.patient_id == checkin_patient
        assert claim.answers == {"mileage_only": True, "own_vehicle": True, "home_address": True}
        assert claim.next_attempt_at == claim.appointment.start + timedelta(hours=24)
        scheduled = redis_client().zrange("rq:scheduled:claims", 0, -1)
        assert scheduled == [f"travel-claim-{claim.id}-1".encode()]
        record = db.session.scalar(select(CheckIn))
        assert record.travel_outcome == "queued" and not record.needs_front_desk


def test_the_link_token_is_stored_only_as_a_hash_and_never_in_later_urls(app, client, clinic, checkin_patient):
    from portal.checkin.models import CheckinLink

    book_appointment(app, clinic, checkin_patient)
    raw = new_link(app, checkin_patient)
    response = sign_in(client, raw)
    assert raw not in response.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(CheckinLink.token_hash)) != raw and len(raw) >= 43


def test_unknown_and_expired_links_do_not_work(app, client, checkin_patient):
    from portal.checkin.models import CheckinLink
    from portal.security.models import utcnow

    assert client.get("/checkin/not-a-real-token").status_code == 404
    raw = new_link(app, checkin_patient)
    with app.app_context():
        db.session.scalar(select(CheckinLink)).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    page = client.get(f"/checkin/{raw}")
    assert page.status_code == 404 and "expired" in page.get_data(as_text=True)


def test_five_wrong_identity_checks_lock_check_in_even_with_the_right_answer(app, client, checkin_patient):
    raw = new_link(app, checkin_patient)
    token = csrf_token_from(client.get(f"/checkin/{raw}").get_data(as_text=True))
    for _ in range(4):
        response = sign_in(client, raw, last_name="Wrong")
        assert response.status_code == 422 and "does not match" in response.get_data(as_text=True)
    assert sign_in(client, raw, last_name="Wrong").status_code == 429
    locked = client.post(f"/checkin/{raw}", data={"last_name": "Danser", "birth_date": BIRTH_DATE,
                                                  "csrf_token": token})
    assert locked.status_code == 429 and "locked" in locked.get_data(as_text=True)
    assert client.get(f"/checkin/{raw}").status_code == 429
    assert client.get("/checkin/appointments").status_code == 404


def test_a_blank_or_malformed_identity_form_shows_errors_next_to_the_fields(app, client, checkin_patient):
    raw = new_link(app, checkin_patient)
    response = sign_in(client, raw, last_name="", birth_date="13/11/1969")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="last_name-error"' in html and 'id="birth_date-error"' in html


def test_no_to_a_demographics_question_is_flagged_for_the_front_desk_and_check_in_goes_on(
        app, client, clinic, checkin_patient, staff_client):
    appointment_id = book_appointment(app, clinic, checkin_patient)
    done = check_in_fully(client, new_link(app, checkin_patient), appointment_id,
                          {**ALL_YES, "emergency_contact": "no"})
    assert "You are checked in" in done and "front desk will update" in done
    with app.app_context():
        record = db.session.scalar(select(CheckIn))
        assert record.needs_front_desk and not record.emergency_contact_ok and record.contact_ok
    page = staff_client("secretary").get("/travel-claims").get_data(as_text=True)
    assert "Line Danser" in page and "emergency contact" in page


def test_no_to_a_travel_question_explains_the_claims_portal_and_queues_nothing(app, client, clinic,
                                                                               checkin_patient):
    appointment_id = book_appointment(app, clinic, checkin_patient)
    assert sign_in(client, new_link(app, checkin_patient)).status_code == 302
    explained = answer_all(client, appointment_id, {**ALL_YES, "own_vehicle": "no"})
    assert "bus, train, taxi" in explained and "/travel/portal" in explained and "within 30 days" in explained
    assert "Check in</button>" in client.get(f"/checkin/appointments/{appointment_id}").get_data(as_text=True)
    done = client.get(press_check_in(client, appointment_id).headers["Location"]).get_data(as_text=True)
    assert "we did not file a claim" in done and "/travel/portal" in done
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TravelClaim)) == 0
        assert db.session.scalar(select(CheckIn.travel_answers)) == {"mileage_only": True, "own_vehicle": False}
        assert redis_client().zcard("rq:scheduled:claims") == 0


@pytest.mark.parametrize("setting, clinic_flag", [(False, True), (True, False)])
def test_travel_questions_are_asked_only_when_the_experience_and_the_clinic_allow_them(
        app, client, checkin_patient, setting, clinic_flag):
    clinic = set_up_clinic(app, travel_pay=clinic_flag)
    appointment_id = book_appointment(app, clinic, checkin_patient)
    app.config["TRAVEL_PAY_ENABLED"] = setting
    try:
        assert sign_in(client, new_link(app, checkin_patient)).status_code == 302
        final = answer_all(client, appointment_id, {k: "yes" for k in ("contact", "emergency_contact", "next_of_kin")})
        assert "Check in</button>" in final
        travel = client.get(f"/checkin/appointments/{appointment_id}/questions/mileage_only")
        assert travel.status_code == 404
        done = client.get(press_check_in(client, appointment_id).headers["Location"]).get_data(as_text=True)
        assert "take a seat" in done
    finally:
        app.config["TRAVEL_PAY_ENABLED"] = True
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TravelClaim)) == 0


def test_too_early_says_when_check_in_opens(app, client, clinic, checkin_patient):
    appointment_id = book_appointment(app, clinic, checkin_patient, minutes_from_now=120)
    assert sign_in(client, new_link(app, checkin_patient)).status_code == 302
    assert "opens at" in client.get("/checkin/appointments").get_data(as_text=True)
    page = client.get(f"/checkin/appointments/{appointment_id}")
    assert page.status_code == 409 and "opens at" in page.get_data(as_text=True)
    question = client.get(f"/checkin/appointments/{appointment_id}/questions/contact")
    assert question.status_code == 409
    refused = client.post(f"/checkin/appointments/{appointment_id}/check-in",
                          data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert refused.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 0


def test_window_opens_45_minutes_before_and_closes_15_after(app, clinic, checkin_patient):
    from portal.checkin import services
    from portal.scheduling.models import Appointment

    appointment_id = book_appointment(app, clinic, checkin_patient, minutes_from_now=60)
    with app.app_context():
        appointment = db.session.get(Appointment, appointment_id)
        start = appointment.start
        assert "opens at" in services.window_message(appointment, start - timedelta(minutes=46))
        assert services.window_message(appointment, start - timedelta(minutes=45)) is None
        assert services.window_message(appointment, start + timedelta(minutes=15)) is None
        assert "closed at" in services.window_message(appointment, start + timedelta(minutes=16))


def test_unanswered_questions_block_check_in_and_a_blank_answer_shows_an_error(app, client, clinic,
                                                                                checkin_patient):
    appointment_id = book_appointment(app, clinic, checkin_patient)
    assert sign_in(client, new_link(app, checkin_patient)).status_code == 302
    url = f"/checkin/appointments/{appointment_id}/questions/contact"
    page = client.get(url).get_data(as_text=True)
    blank = client.post(url, data={"csrf_token": csrf_token_from(page)})
    assert blank.status_code == 422 and "Choose yes or no." in blank.get_data(as_text=True)
    early = client.post(f"/checkin/appointments/{appointment_id}/check-in", data={"csrf_token": csrf_token_from(page)})
    assert early.status_code == 409 and "Answer every question" in early.get_data(as_text=True)
    assert client.post(f"/checkin/appointments/{appointment_id}/check-in").status_code == 400


def test_second_appointment_the_same_day_gets_already_filed_for_that_day(app, client, clinic, checkin_patient):
    first = book_appointment(app, clinic, checkin_patient, minutes_from_now=20)
    second = book_appointment(app, clinic, checkin_patient, minutes_from_now=30)
    check_in_fully(client, new_link(app, checkin_patient), first)
    answer_all(client, second, ALL_YES)
    done = client.get(press_check_in(client, second).headers["Location"]).get_data(as_text=True)
    assert "already been filed for you for this day" in done
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TravelClaim)) == 1
        assert db.session.scalar(select(CheckIn.travel_outcome).where(CheckIn.appointment_id == second)) \
            == "already_filed"


def test_checking_in_twice_keeps_one_check_in(app, client, clinic, checkin_patient):
    appointment_id = book_appointment(app, clinic, checkin_patient)
    check_in_fully(client, new_link(app, checkin_patient), appointment_id)
    token = csrf_token_from(client.get("/checkin/appointments").get_data(as_text=True))
    again = client.post(f"/checkin/appointments/{appointment_id}/check-in", data={"csrf_token": token})
    assert again.status_code == 302 and again.headers["Location"].endswith("/done")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1
        assert db.session.scalar(select(func.count()).select_from(TravelClaim)) == 1


def test_another_patients_appointment_is_not_found(app, client, clinic, checkin_patient):
    other = make_checkin_patient(app, fnr="01018012371", last_name="Nordmann")
    theirs = book_appointment(app, clinic, other)
    assert sign_in(client, new_link(app, checkin_patient)).status_code == 302
    assert client.get(f"/checkin/appointments/{theirs}").status_code == 404
    assert client.get(f"/checkin/appointments/{theirs}/questions/contact").status_code == 404
    assert client.get("/checkin/appointments/99999999999").status_code == 404


def test_reads_of_patient_details_are_audited(app, client, clinic, checkin_patient):
    appointment_id = book_appointment(app, clinic, checkin_patient)
    assert sign_in(client, new_link(app, checkin_patient)).status_code == 302
    client.get(f"/checkin/appointments/{appointment_id}/questions/next_of_kin")
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == checkin_patient)))
    assert {"checkin.identity_checked", "checkin.details_viewed"} <= actions


def test_without_redis_the_claim_is_stored_not_yet_queued_and_the_sweep_queues_it(app, client, clinic,
                                                                                   checkin_patient):
    appointment_id = book_appointment(app, clinic, checkin_patient)
    assert sign_in(client, new_link(app, checkin_patient)).status_code == 302
    answer_all(client, appointment_id, ALL_YES)
    with redis_unreachable(app):
        done = client.get(press_check_in(client, appointment_id).headers["Location"]).get_data(as_text=True)
    assert "stored but not yet queued" in done
    with app.app_context():
        from portal.travel_pay.services import sweep_travel_claims

        assert db.session.scalar(select(TravelClaim.status)) == "not_queued"
        assert sweep_travel_claims() == {"recovered": 0, "queued": 1}
        assert sweep_travel_claims() == {"recovered": 0, "queued": 0}  # never queued twice
        assert db.session.scalar(select(TravelClaim.status)) == "queued"
        assert redis_client().zcard("rq:scheduled:claims") == 1


def test_delay_hours_other_than_12_or_24_are_refused_at_start_up():
    import os

    from portal.config import load_settings

    with pytest.raises(ValueError, match="12 or 24"):
        load_settings({**os.environ, "TRAVEL_CLAIM_DELAY_HOURS": "6"})
    assert load_settings({**os.environ, "TRAVEL_CLAIM_DELAY_HOURS": "12"})["TRAVEL_CLAIM_DELAY_HOURS"] == 12
