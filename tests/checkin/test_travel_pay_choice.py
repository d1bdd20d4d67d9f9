"""Travel pay as the VA's day-of check-in asks it: file now or later, three questions, review and agree."""

import pytest
from sqlalchemy import func, select

from portal.checkin.models import CheckIn
from portal.extensions import db, redis_client
from portal.travel_pay.agreement import CURRENT_VERSION, current_agreement
from portal.travel_pay.models import TravelClaim
from tests.checkin.conftest import book_appointment, new_link
from tests.checkin.test_checkin_flow import ALL_YES, answer_all, press_check_in, sign_in
from tests.conftest import csrf_token_from


def signed_in_with_appointment(app, client, clinic, patient_id) -> int:
    appointment_id = book_appointment(app, clinic, patient_id)
    assert sign_in(client, new_link(app, patient_id)).status_code == 302
    return appointment_id


def claims_and_jobs(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(TravelClaim)),
                redis_client().zcard("rq:scheduled:claims") + redis_client().llen("rq:queue:claims"))


def test_travel_pay_starts_by_asking_whether_to_file_now_or_later(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    demographics = {k: "yes" for k in ("contact", "emergency_contact", "next_of_kin")}
    for name in demographics:
        page = client.get(f"/checkin/appointments/{appointment_id}/questions/{name}").get_data(as_text=True)
        client.post(f"/checkin/appointments/{appointment_id}/questions/{name}",
                    data={"answer": "yes", "csrf_token": csrf_token_from(page)})
    after = client.get(f"/checkin/appointments/{appointment_id}")
    assert after.status_code == 302 and after.headers["Location"].endswith("/travel-pay")
    ask = client.get(after.headers["Location"]).get_data(as_text=True)
    assert "Would you like to file a travel reimbursement claim?" in ask
    assert "Yes, file a claim now" in ask and "No, I’ll file later" in ask and "within 30 days" in ask


def test_file_later_explains_how_and_by_when_and_queues_nothing(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    later = answer_all(client, appointment_id, {**ALL_YES, "file_now": "later"})
    assert "File your travel claim later" in later and "nothing has been sent" in later
    assert "/travel/portal" in later and "paper claim form" in later and "You must file within 30 days" in later
    final = client.get(f"/checkin/appointments/{appointment_id}").get_data(as_text=True)
    assert "Check in</button>" in final and "you chose to file later" in final
    done = client.get(press_check_in(client, appointment_id).headers["Location"]).get_data(as_text=True)
    assert "you chose to file later" in done and "You must file within 30 days" in done
    assert claims_and_jobs(app) == (0, 0)
    with app.app_context():
        record = db.session.scalar(select(CheckIn))
        assert record.travel_outcome == "file_later" and record.travel_answers == {}


def test_a_blank_ask_shows_its_error_and_travel_questions_wait_for_it(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    answer_all(client, appointment_id, {**ALL_YES, "file_now": None})
    url = f"/checkin/appointments/{appointment_id}/travel-pay"
    blank = client.post(url, data={"csrf_token": csrf_token_from(client.get(url).get_data(as_text=True))})
    assert blank.status_code == 422 and "Choose whether to file now or later." in blank.get_data(as_text=True)
    assert client.post(url, data={"answer": "yes"}).status_code == 400  # no CSRF token


@pytest.mark.parametrize("question, reason", [
    ("mileage_only", "receipts for other expenses like tolls"),
    ("own_vehicle", "bus, train, taxi"),
    ("home_address", "from a different address"),
])
def test_each_no_ends_travel_with_its_reason_and_the_other_way_to_file(app, client, clinic, checkin_patient,
                                                                       question, reason):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    explained = answer_all(client, appointment_id, {**ALL_YES, question: "no"})
    assert "We can’t file this travel claim for you now" in explained and reason in explained
    assert "/travel/portal" in explained and "within 30 days" in explained
    assert client.get(f"/checkin/appointments/{appointment_id}/travel-pay/review").headers["Location"] \
        .endswith(f"/checkin/appointments/{appointment_id}")
    client.get(press_check_in(client, appointment_id).headers["Location"])
    assert claims_and_jobs(app) == (0, 0)


def test_the_review_shows_the_answers_the_home_address_and_the_agreement(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    review = answer_all(client, appointment_id, {**ALL_YES, "agreement": None})  # stops on the review page
    assert "Review your travel claim" in review
    assert "Mileage reimbursement only" in review and "In your own vehicle" in review and "1 Fjord Road" in review
    agreement = current_agreement("en")
    assert agreement.title in review and "Penalty statement:" in review
    for statement in agreement.statements:
        assert statement.replace("’", "&#39;") in review or statement in review
    assert 'type="checkbox" id="agree"' in review
    assert "File claim</button>" in review and "File later</button>" in review


def test_file_claim_without_the_box_ticked_says_why_and_files_nothing(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    refused = answer_all(client, appointment_id, {**ALL_YES, "agree": False})
    assert "You must accept the beneficiary travel agreement before you file your claim." in refused
    assert 'aria-describedby="agree-error"' in refused and 'role="alert"' in refused
    appointment_page = client.get(f"/checkin/appointments/{appointment_id}")
    assert appointment_page.headers["Location"].endswith("/travel-pay/review")  # still to be answered
    token = csrf_token_from(refused)
    early = client.post(f"/checkin/appointments/{appointment_id}/check-in", data={"csrf_token": token})
    assert early.status_code == 409
    assert claims_and_jobs(app) == (0, 0)


def test_agreeing_files_with_the_agreements_version_language_and_wording(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    final = answer_all(client, appointment_id, ALL_YES)
    assert "your travel claim is filed when you check in" in final
    done = client.get(press_check_in(client, appointment_id).headers["Location"]).get_data(as_text=True)
    assert "stored and queued" in done
    with app.app_context():
        claim = db.session.scalar(select(TravelClaim))
        assert claim.agreement_version == CURRENT_VERSION and claim.agreement_language == "en"
        assert claim.agreement_text == current_agreement("en").as_text() and claim.agreed_at is not None
        assert "Penalty statement" in claim.agreement_text and "I am the only person claiming" in claim.agreement_text
    assert claims_and_jobs(app) == (1, 1)


def test_file_later_on_the_review_page_queues_nothing(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    later = answer_all(client, appointment_id, {**ALL_YES, "agreement": "later", "agree": False})
    assert "File your travel claim later" in later
    done = client.get(press_check_in(client, appointment_id).headers["Location"]).get_data(as_text=True)
    assert "you chose to file later" in done
    assert claims_and_jobs(app) == (0, 0)


def test_an_agreement_accepted_in_an_older_version_is_asked_again(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    with client.session_transaction() as session:
        session["checkin_answers"] = {str(appointment_id): {
            "contact": True, "emergency_contact": True, "next_of_kin": True, "file_now": True,
            "mileage_only": True, "own_vehicle": True, "home_address": True, "agreement": "1999-1"}}
    page = client.get(f"/checkin/appointments/{appointment_id}")
    assert page.headers["Location"].endswith("/travel-pay/review")


def test_travel_pages_are_not_found_without_travel_pay_or_for_another_patient(app, client, checkin_patient):
    from tests.checkin.conftest import make_checkin_patient, set_up_clinic

    no_travel = set_up_clinic(app, travel_pay=False)
    appointment_id = signed_in_with_appointment(app, client, no_travel, checkin_patient)
    for path in ("travel-pay", "travel-pay/review"):
        assert client.get(f"/checkin/appointments/{appointment_id}/{path}").status_code == 404
    other = book_appointment(app, no_travel, make_checkin_patient(app, fnr="01018012371", last_name="Nordmann"), 25)
    assert client.get(f"/checkin/appointments/{other}/travel-pay/later").status_code == 404


def test_the_review_refuses_a_post_without_its_csrf_token(app, client, clinic, checkin_patient):
    appointment_id = signed_in_with_appointment(app, client, clinic, checkin_patient)
    answer_all(client, appointment_id, {**ALL_YES, "agreement": None})
    refused = client.post(f"/checkin/appointments/{appointment_id}/travel-pay/review",
                          data={"action": "file", "agree": "y"})
    assert refused.status_code == 400
    assert client.get(f"/checkin/appointments/{appointment_id}").headers["Location"].endswith("/travel-pay/review")
