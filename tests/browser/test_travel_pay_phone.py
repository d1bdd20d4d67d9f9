"""Travel pay on a 390 px phone in Debian's Chromium: file later, the three questions, the review with the
beneficiary travel agreement (required, and the page says why), and what the confirmation says as the
claim moves on. Every travel page is checked with axe (no violation of any impact) and used by keyboard.
"""

import os
import re

import pytest
from sqlalchemy import update

from portal.extensions import db
from portal.security.models import utcnow
from portal.travel_pay.models import TravelClaim
from tests.browser.conftest import PHONE
from tests.browser.test_checkin_phone import answer_yes_by_keyboard, no_sideways_scroll
from tests.checkin.conftest import book_appointment, new_link
from tests.travel_pay.conftest import checkin_patient, clinic  # noqa: F401

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Debian chromium is not installed")]


def violations(page) -> list[str]:
    """Every axe-core finding on the page as it is now, whatever its impact."""
    from axe_playwright_python.sync_playwright import Axe

    return [f"{v['id']} ({v.get('impact')}): {[n['html'] for n in v['nodes']]}"
            for v in Axe().run(page).response["violations"]]


def clean(page) -> bool:
    found = violations(page)
    assert found == [], found
    assert no_sideways_scroll(page), page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth)"
        ".map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)")
    return True


def signed_in_on_a_phone(app, open_page, clinic, patient_id):  # noqa: F811
    appointment_id = book_appointment(app, clinic, patient_id, minutes_from_now=20)
    page = open_page(PHONE)
    page.goto(f"/checkin/{new_link(app, patient_id)}")
    page.get_by_label("Your last name").fill("Danser")
    page.get_by_label("Your date of birth").fill("1969-11-13")
    page.keyboard.press("Enter")
    page.wait_for_url("**/checkin/appointments")
    page.get_by_role("link", name=re.compile("Start check-in")).click()
    for _ in range(3):  # contact, emergency contact, next of kin
        answer_yes_by_keyboard(page)
    assert page.url.endswith("/travel-pay")
    return page, appointment_id


def choose_by_keyboard(page, label: str) -> None:
    page.get_by_label(label).focus()
    page.keyboard.press("Space")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def check_in_by_keyboard(page) -> None:
    page.get_by_role("button", name="Check in").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/done")


def test_file_later_is_an_equal_choice_that_explains_how_and_queues_nothing(app, open_page, clinic,  # noqa: F811
                                                                              checkin_patient, screens):  # noqa: F811
    from playwright.sync_api import expect

    page, _ = signed_in_on_a_phone(app, open_page, clinic, checkin_patient)
    expect(page.get_by_role("heading", name="Would you like to file a travel reimbursement claim?")).to_be_visible()
    now, later = page.get_by_label("Yes, file a claim now"), page.get_by_label("No, I’ll file later")
    assert now.get_attribute("type") == later.get_attribute("type") == "radio"  # the same kind of choice
    assert clean(page)
    page.screenshot(path=str(screens / "travel-ask.png"), full_page=True)

    choose_by_keyboard(page, "No, I’ll file later")
    expect(page.get_by_role("heading", name="File your travel claim later")).to_be_visible()
    expect(page.get_by_text("You must file within 30 days of your appointment")).to_be_visible()
    expect(page.get_by_role("link", name="travel claims portal")).to_be_visible()
    assert clean(page)
    page.screenshot(path=str(screens / "travel-file-later.png"), full_page=True)

    page.get_by_role("link", name="Continue to check in").click()
    expect(page.get_by_text("you chose to file later")).to_be_visible()
    check_in_by_keyboard(page)
    expect(page.get_by_role("status")).to_contain_text("you chose to file later")
    assert clean(page)
    page.screenshot(path=str(screens / "travel-done-file-later.png"), full_page=True)
    with app.app_context():
        assert db.session.query(TravelClaim).count() == 0
    assert page.problems == []


def test_three_questions_then_the_review_requires_the_agreement_and_says_why(app, open_page, clinic,  # noqa: F811
                                                                              checkin_patient, screens):  # noqa: F811
    from playwright.sync_api import expect

    page, appointment_id = signed_in_on_a_phone(app, open_page, clinic, checkin_patient)
    choose_by_keyboard(page, "Yes, file a claim now")
    asked = []
    while "/questions/" in page.url:
        assert clean(page)
        asked.append(answer_yes_by_keyboard(page))
    assert asked == ["Are you claiming only mileage and no other expenses?", "Did you travel in your own vehicle?",
                     "Did you travel from your home address?"]

    assert page.url.endswith("/travel-pay/review")
    expect(page.get_by_role("heading", name="Review your travel claim")).to_be_visible()
    expect(page.get_by_text("Mileage reimbursement only")).to_be_visible()
    expect(page.get_by_text("1 Fjord Road")).to_be_visible()
    expect(page.get_by_role("heading", name="Beneficiary travel agreement")).to_be_visible()
    expect(page.get_by_role("button", name="File claim")).to_have_accessible_description(
        re.compile("needs the box above ticked"))
    assert clean(page)
    page.screenshot(path=str(screens / "travel-review.png"), full_page=True)

    page.get_by_role("button", name="File claim").focus()  # without the box ticked
    with page.expect_navigation():
        page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("You must accept the beneficiary travel agreement")
    box = page.get_by_role("checkbox")
    expect(box).to_have_accessible_description(re.compile("You must accept"))
    expect(box).not_to_be_checked()
    assert clean(page)
    page.screenshot(path=str(screens / "travel-review-agreement-required.png"), full_page=True)
    with app.app_context():
        assert db.session.query(TravelClaim).count() == 0

    box.focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="File claim").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_text("your travel claim is filed when you check in")).to_be_visible()
    check_in_by_keyboard(page)
    expect(page.get_by_role("status")).to_contain_text("stored and queued")
    assert clean(page)
    page.screenshot(path=str(screens / "travel-done-queued.png"), full_page=True)

    states = [
        ({"status": "filed", "claim_number": "TC-0004321", "claim_status": "ClaimSubmitted"},
         "Claim number TC-0004321, status: claim submitted", "travel-done-filed.png"),
        ({"status": "decided", "claim_status": "ApprovedForPayment", "decided_at": utcnow()},
         "has a decision: approved for payment", "travel-done-decided.png"),
        ({"status": "exists", "claim_number": None, "claim_status": None},
         "already has a travel claim for this appointment", "travel-done-exists.png"),
    ]
    for values, said, shot in states:
        with app.app_context():
            db.session.execute(update(TravelClaim).where(TravelClaim.appointment_id == appointment_id).values(**values))
            db.session.commit()
            db.session.remove()
        page.reload()
        expect(page.get_by_role("status")).to_contain_text(said)
        assert clean(page)
        page.screenshot(path=str(screens / shot), full_page=True)
    # The refused "File claim" answers 422 (Chromium logs it); nothing else may have gone wrong.
    assert [p for p in page.problems if "status of 422" not in p] == []


def test_staff_see_the_claims_system_status_and_that_filing_is_paused(app, open_page, clinic,  # noqa: F811
                                                                     checkin_patient, sign_in_as,  # noqa: F811
                                                                     screens):
    import time

    from playwright.sync_api import expect

    from portal.extensions import redis_client
    from portal.travel_pay import breaker
    from tests.checkin.conftest import make_checkin_patient
    from tests.travel_pay.test_claim_job import checked_in_claim

    first = checked_in_claim(app, clinic, checkin_patient)
    second = checked_in_claim(app, clinic, make_checkin_patient(app, fnr="01018012371", last_name="Nordmann"), 25)
    now = utcnow()
    with app.app_context():
        db.session.execute(update(TravelClaim).where(TravelClaim.id == first).values(
            status="filed", claim_number="TC-0000007", claim_status="InProcess", status_checked_at=now,
            next_status_check_at=now, follow_until=now))
        db.session.execute(update(TravelClaim).where(TravelClaim.id == second).values(
            status="decided", claim_number="TC-0000008", claim_status="ApprovedForPayment", decided_at=now))
        db.session.commit()
        redis_client().set(breaker.OPEN_KEY, f"{time.time() + 600:.3f}", ex=600)
    page = open_page(PHONE)
    sign_in_as(page, "secretary")
    page.goto("/travel-claims")
    expect(page.get_by_role("status").filter(has_text="Filing is paused")).to_contain_text("resumes by itself")
    expect(page.get_by_text("approved for payment")).to_be_visible()
    expect(page.get_by_text("in process")).to_be_visible()
    assert clean(page)
    page.screenshot(path=str(screens / "travel-claims-staff-paused.png"), full_page=True)
