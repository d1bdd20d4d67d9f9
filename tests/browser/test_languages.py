"""A Norwegian patient on a 390 px phone in Debian's Chromium: the texted links arrive in bokmål, the pages
open in bokmål (lang="nb-NO", axe clean), and the language switch changes to English midway without losing
the place or the answers given."""

import os
import re

import pytest
from sqlalchemy import select

from portal.consultations import services as consultations
from portal.consultations.models import Consultation
from portal.extensions import db
from tests.browser.a11y import axe_violations, sideways_overflow
from tests.browser.conftest import PHONE, screenshot
from tests.checkin.conftest import book_appointment, make_checkin_patient, set_up_clinic
from tests.conftest import make_consultation, make_patient, make_staff, run_notification_jobs

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Debian chromium is not installed")]


def texted_path(sandbox, pattern: str) -> tuple[str, str]:
    """(the last text message that holds a link like `pattern`, the link's path)."""
    texts = [m["text"] for m in sandbox.sms if re.search(pattern, m["text"])]
    assert texts, f"no text message with a link like {pattern}"
    return texts[-1], re.search(f"({pattern})", texts[-1]).group(1)


def html_lang(page) -> str:
    return page.evaluate("document.documentElement.lang")


def clean(page, where: str) -> None:
    assert axe_violations(page) == [], where
    assert sideways_overflow(page) <= 0, f"{where} scrolls sideways at 390 px"


def test_a_norwegian_patient_checks_in_in_bokmal_and_switches_to_english_keeping_the_answers(
        app, open_page, sandbox, screens, monkeypatch, clinic_morning):
    # In the clinic's morning: in the last 20 minutes before its midnight the appointment below is tomorrow's.
    from portal.checkin.services import send_checkin_links

    clinic = set_up_clinic(app)
    patient_id = make_checkin_patient(app, language="nb")
    appointment = book_appointment(app, clinic, patient_id, minutes_from_now=20)
    monkeypatch.setitem(app.config, "CHECKIN_LINKS_FROM_HOUR", 0)  # the app is the session's: put it back
    with app.app_context():
        assert send_checkin_links() == 2
    run_notification_jobs(app)
    text, path = texted_path(sandbox, r"/checkin/[A-Za-z0-9_-]+")
    assert text.startswith("Du har time i dag kl. ") and "Sjekk inn på mobilen" in text

    page = open_page(PHONE)
    page.goto(path)
    assert html_lang(page) == "nb-NO"
    assert page.get_by_role("heading", level=1).inner_text() == "Innsjekking: bekreft at det er deg"
    clean(page, "identity check in bokmål")
    page.get_by_label("Etternavnet ditt").fill("Danser")
    page.get_by_label("Fødselsdatoen din").fill("1969-11-13")
    page.get_by_role("button", name="Fortsett").click()
    page.wait_for_url("**/checkin/appointments")
    assert page.get_by_role("heading", level=1).inner_text() == "Timene dine i dag"
    page.get_by_role("link", name=re.compile("Start innsjekking")).click()
    page.wait_for_url("**/questions/contact")
    assert page.locator("legend h1").inner_text() == "Stemmer kontaktopplysningene dine?"
    clean(page, "first question in bokmål")
    screenshot(page, screens / "languages-checkin-question-nb.png", full_page=True)
    page.get_by_label("Ja").check()
    page.get_by_role("button", name="Fortsett").click()
    page.wait_for_url("**/questions/emergency_contact")

    # Midway: English, on the same question.
    page.locator(".language-switch").get_by_role("button", name="English").click()
    page.wait_for_url("**/questions/emergency_contact")
    assert html_lang(page) == "en-GB"
    assert page.locator("legend h1").inner_text() == "Is your emergency contact correct?"
    assert page.locator(".language-switch").get_by_role("button", name="Norsk (bokmål)").is_visible()
    clean(page, "second question in English")
    screenshot(page, screens / "languages-checkin-question-en.png", full_page=True)
    # The first answer was kept: the appointment goes on to the question after it, not back to the first.
    page.goto(f"/checkin/appointments/{appointment}")
    page.wait_for_url("**/questions/emergency_contact")
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/questions/next_of_kin")
    assert page.locator("legend h1").inner_text() == "Is your next of kin correct?"


def test_a_norwegian_patient_opens_the_texted_consultation_link_in_bokmal_and_can_switch(
        app, open_page, sandbox, screens):
    patient_id = make_patient(app, language="nb")
    cid = make_consultation(app, patient_id)
    doctor_id = make_staff(app, "doctor", "lege@test.example", "Dr. Lege")
    with app.app_context():
        consultations.pick_consultation(db.session.scalar(select(Consultation).where(Consultation.id == cid)),
                                        doctor_id=doctor_id)
    run_notification_jobs(app)
    text, path = texted_path(sandbox, r"/c/[A-Za-z0-9_-]+")
    assert text.startswith("En lege har tatt konsultasjonen din ")

    page = open_page(PHONE)
    page.goto(path)  # the browser says nothing of Norwegian: the record decides
    assert html_lang(page) == "nb-NO"
    assert page.get_by_role("heading", level=1).inner_text() == "Bekreft at det er deg"
    clean(page, "consultation identity check in bokmål")
    page.get_by_label("Etternavnet ditt").fill("Danser")
    page.get_by_label("Fødselsdatoen din").fill("1969-11-13")
    page.get_by_role("button", name="Fortsett").click()
    page.wait_for_url("**/c/room")
    assert page.get_by_role("heading", level=1).inner_text() == "Venterom"
    clean(page, "waiting room in bokmål")
    screenshot(page, screens / "languages-waiting-room-nb.png", full_page=True)

    page.locator(".language-switch").get_by_role("button", name="English").click()
    page.wait_for_url("**/c/room")
    assert html_lang(page) == "en-GB" and page.get_by_role("heading", level=1).inner_text() == "Waiting room"
    clean(page, "waiting room in English")
