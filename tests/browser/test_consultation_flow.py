"""A whole consultation in Debian's Chromium: a doctor and a patient, each in their own browser context.

Runs against the real server on loopback (live_server) and the sandbox; the notifications worker
runs in this process. Skipped when /usr/bin/chromium is missing (`make test` installs it as root).
"""

import os
import re
import time
from pathlib import Path

import pytest

from tests.browser.conftest import serious_violations
from tests.conftest import PASSWORD, make_consultation, make_staff, pass_code_step, run_notification_jobs

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def latest_link(sandbox, base_url: str) -> str:
    text = sandbox.sms[-1]["text"]
    return base_url + re.search(r"(/c/[A-Za-z0-9_-]+)", text).group(1)


def test_doctor_and_patient_run_a_whole_consultation(app, live_server, sandbox, browser):
    from playwright.sync_api import expect

    make_staff(app, "doctor", "doc@test.example", "Dr. Browser")
    make_consultation(app)

    doctor = browser.new_context().new_page()
    doctor.goto(f"{live_server}/login")
    doctor.get_by_label("E-mail").fill("doc@test.example")
    doctor.get_by_label("Password").fill(PASSWORD)
    doctor.get_by_role("button", name="Sign in").click()
    pass_code_step(doctor, app, "doc@test.example")
    expect(doctor.get_by_role("heading", name="Consultations")).to_be_visible()
    doctor.get_by_role("button", name=re.compile("^Pick")).first.click()
    expect(doctor.get_by_text("is yours")).to_be_visible()

    # The patient follows the link sent when the doctor picked, on a phone-sized screen.
    run_notification_jobs(app)
    patient = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    patient.goto(latest_link(sandbox, live_server))
    patient.get_by_label("Your last name").fill("Danser")
    patient.get_by_label("Your date of birth").fill("1969-11-13")
    patient.get_by_role("button", name="Continue").click()
    expect(patient.get_by_text("Your doctor will join soon")).to_be_visible()
    assert serious_violations(patient) == []

    doctor.get_by_role("button", name="Start consultation").click()
    expect(doctor.get_by_text("The patient has been sent a link")).to_be_visible()
    # The waiting room turns into the consultation by itself.
    expect(patient.get_by_role("heading", name="Your doctor is here")).to_be_visible(timeout=10000)
    # Each side's key is POSTed to the video service's join page (the sandbox verifies it), never put in a URL.
    with patient.expect_popup() as opened:
        patient.get_by_role("button", name=re.compile("Join the video call")).click()
    expect(opened.value.get_by_text("Joined as the patient")).to_be_visible()
    assert "key" not in opened.value.url
    opened.value.close()
    with doctor.expect_popup() as opened:
        doctor.get_by_role("button", name=re.compile("Open the video room")).click()
    expect(opened.value.get_by_text("Joined as the doctor")).to_be_visible()
    opened.value.close()
    screens = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/screens"))
    screens.mkdir(parents=True, exist_ok=True)
    patient.screenshot(path=str(screens / "patient-room-video-phone.png"), full_page=True)
    doctor.screenshot(path=str(screens / "doctor-consultation-video-desktop.png"), full_page=True)
    assert serious_violations(patient) == []
    assert serious_violations(doctor) == []

    patient.get_by_role("textbox", name="Message").fill("Hello doctor, I have a sore throat.")
    patient.get_by_role("button", name="Send").click()
    expect(doctor.get_by_text("Hello doctor, I have a sore throat.")).to_be_visible(timeout=10000)
    doctor.get_by_role("textbox", name="Message").fill("How long have you had it?")
    doctor.get_by_role("button", name="Send").click()
    expect(patient.get_by_text("How long have you had it?")).to_be_visible(timeout=10000)
    expect(patient.get_by_role("textbox", name="Message")).to_have_value("")
    # Polls and sends append only what is new: each message once, in order, on both sides.
    patient.get_by_role("textbox", name="Message").fill("Three days.")
    patient.get_by_role("button", name="Send").click()
    expect(doctor.get_by_text("Three days.")).to_be_visible(timeout=10000)
    time.sleep(1.5)  # a few more polls on both sides, which must add nothing
    said = ["Hello doctor, I have a sore throat.", "How long have you had it?", "Three days."]
    for page in (patient, doctor):
        log = page.get_by_role("log", name="Messages")
        expect(log.locator("li.msg p")).to_have_text(said)
        expect(log.get_by_text("No messages yet.")).to_have_count(0)
    patient.screenshot(path=str(screens / "patient-chat-phone.png"), full_page=True)
    assert serious_violations(patient) == []

    doctor.once("dialog", lambda dialog: dialog.accept())
    doctor.get_by_role("button", name="Finish consultation").click()
    expect(doctor.get_by_text("Please file the report")).to_be_visible()
    assert serious_violations(doctor) == []
    expect(patient.get_by_role("heading", name="Your consultation is completed")).to_be_visible(timeout=10000)

    doctor.get_by_label("ICPC-2 code").fill("R76 Tonsillitis acute")
    doctor.get_by_label("Outcome").select_option("helped")
    doctor.get_by_label("Notes").fill("Throat swab not needed.")
    doctor.get_by_role("button", name="File report").click()
    expect(doctor.get_by_text("Report filed.")).to_be_visible()
    expect(doctor.get_by_text("R76 Tonsillitis acute")).to_be_visible()

    assert serious_violations(patient) == []
    patient.get_by_label("5", exact=True).check()
    patient.get_by_label(re.compile("Anything you want to tell us")).fill("Quick and kind.")
    patient.get_by_role("button", name="Send review").click()
    expect(patient.get_by_text("Thank you for your review.")).to_be_visible()

    run_notification_jobs(app)  # the completion e-mail reaches the sandbox's mail catcher
    deadline = time.time() + 5
    while time.time() < deadline and not any(m["subject"] == "Thank you for your consultation"
                                             for m in sandbox.emails):
        time.sleep(0.05)
    assert any(m["subject"] == "Thank you for your consultation" for m in sandbox.emails)
