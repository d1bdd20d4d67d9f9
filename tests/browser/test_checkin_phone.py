"""The whole check-in on a 390 px phone in Debian's Chromium, keyboard only, with a real worker.

The link arrives through the outbox in the sandbox's SMS gateway; the patient answers one question
per page; the claim is due 3 seconds after check-in (TRAVEL_CLAIM_DELAY_SECONDS), so RQ's scheduler
in a real `flask worker` process files it and the result SMS reaches the sandbox.
"""

import os
import re
import time

import pytest

from tests.browser.conftest import PHONE, serious_violations
from tests.checkin.conftest import book_appointment
from tests.conftest import run_notification_jobs
from tests.e2e.test_travel_claim_chaos import kill_hard, start_worker, wait_for
from tests.travel_pay.conftest import checkin_patient, clinic, travel_sandbox  # noqa: F401

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Debian chromium is not installed")]


def checkin_path(sandbox) -> str:
    texts = [m["text"] for m in sandbox.sms if "/checkin/" in m["text"]]
    assert texts, "no check-in link was texted"
    return re.search(r"(/checkin/[A-Za-z0-9_-]+)", texts[-1]).group(1)


def answer_yes_by_keyboard(page) -> str:
    """Choose "Yes" with the keyboard and submit with Enter; returns the question asked."""
    question = page.locator("legend h1").inner_text()
    page.get_by_label("Yes").focus()
    page.keyboard.press("Space")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return question


def agree_and_file_by_keyboard(page) -> None:
    """On the review page: tick the agreement's box with the keyboard, then "File claim" with Enter."""
    assert page.url.endswith("/travel-pay/review")
    page.get_by_role("checkbox").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="File claim").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_patient_checks_in_on_a_phone_and_gets_the_claim_number_by_sms(app, open_page, clinic,  # noqa: F811
                                                                      checkin_patient, travel_sandbox,  # noqa: F811
                                                                      screens, sign_in_as):
    from portal.checkin.services import send_checkin_links

    book_appointment(app, clinic, checkin_patient, minutes_from_now=20)
    app.config.update(CHECKIN_LINKS_FROM_HOUR=0, TRAVEL_CLAIM_DELAY_SECONDS=3)
    worker = start_worker(app, travel_sandbox.url)
    try:
        with app.app_context():
            assert send_checkin_links() == 2  # SMS and e-mail, on the day
        run_notification_jobs(app)
        page = open_page(PHONE)
        page.goto(checkin_path(travel_sandbox))
        assert serious_violations(page) == []
        page.screenshot(path=str(screens / "checkin-identity.png"), full_page=True)
        page.get_by_label("Your last name").fill("Danser")
        page.get_by_label("Your date of birth").fill("1969-11-13")
        page.keyboard.press("Enter")
        page.wait_for_url("**/checkin/appointments")
        assert serious_violations(page) == []
        page.screenshot(path=str(screens / "checkin-appointments.png"), full_page=True)
        page.get_by_role("link", name=re.compile("Start check-in")).click()

        asked = []
        while "/questions/" in page.url or page.url.endswith("/travel-pay"):
            if not asked:
                assert serious_violations(page) == [] and no_sideways_scroll(page)
            if "home_address" in page.url:
                assert "1 Fjord Road" in page.content()
                assert serious_violations(page) == []
                page.screenshot(path=str(screens / "checkin-question-home-address.png"), full_page=True)
            asked.append(answer_yes_by_keyboard(page))
        assert asked == ["Is your contact information correct?", "Is your emergency contact correct?",
                         "Is your next of kin correct?", "Would you like to file a travel reimbursement claim?",
                         "Are you claiming only mileage and no other expenses?",
                         "Did you travel in your own vehicle?", "Did you travel from your home address?"]
        agree_and_file_by_keyboard(page)
        assert serious_violations(page) == []
        page.screenshot(path=str(screens / "checkin-appointment.png"), full_page=True)
        page.get_by_role("button", name="Check in").click()
        page.wait_for_url("**/done")
        assert "stored and queued" in page.content()
        assert serious_violations(page) == [] and no_sideways_scroll(page)
        page.screenshot(path=str(screens / "checkin-done.png"), full_page=True)
        assert page.problems == []

        started = time.monotonic()
        filed = wait_for(lambda: [m for m in travel_sandbox.sms if "TC-" in m["text"]], 60, "the claim SMS")
        assert "TC-0000001" in filed[0]["text"] and time.monotonic() - started < 60
        assert travel_sandbox.counters()["duplicates"] == 0
        page.reload()
        assert "TC-0000001" in page.content()
    finally:
        kill_hard(worker)
        app.config.update(CHECKIN_LINKS_FROM_HOUR=7, TRAVEL_CLAIM_DELAY_SECONDS=None)

    staff = open_page(PHONE)
    sign_in_as(staff, "secretary")
    staff.goto("/travel-claims")
    assert "TC-0000001" in staff.content()
    assert serious_violations(staff) == [] and no_sideways_scroll(staff)
    staff.screenshot(path=str(screens / "travel-claims-staff.png"), full_page=True)


def test_a_travel_no_explains_the_claims_portal_on_a_phone(app, open_page, clinic, checkin_patient,  # noqa: F811
                                                           screens):
    from tests.checkin.conftest import new_link

    book_appointment(app, clinic, checkin_patient, minutes_from_now=20)
    page = open_page(PHONE)
    page.goto(f"/checkin/{new_link(app, checkin_patient)}")
    page.get_by_label("Your last name").fill("Danser")
    page.get_by_label("Your date of birth").fill("1969-11-13")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name=re.compile("Start check-in")).click()
    page.get_by_role("button", name="Continue").click()  # no answer: the error sits by the question
    assert page.get_by_text("Choose yes or no.").is_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(screens / "checkin-question-error.png"), full_page=True)
    for _ in range(4):  # three about details, then "file a claim now"
        answer_yes_by_keyboard(page)
    page.get_by_label("No").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/travel")
    assert page.get_by_text("receipts for other expenses").is_visible()
    assert page.get_by_role("link", name="travel claims portal").is_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(screens / "checkin-not-eligible.png"), full_page=True)
