"""The doctor's view of the patient, in Chromium: finish, open the record, read an earlier report (the
audit log shows the read and its reason), book a follow-up consultation and an appointment; a secretary
on a phone sees the history without any report's contents.

Screenshots of the record (desktop and 375 px), the report, the follow-up page land in SCREENSHOT_DIR.
"""

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import (
    CHROMIUM,
    DESKTOP,
    OVERFLOW,
    assert_no_axe_violations,
    assert_ran_clean,
    screenshot,
    tab_to,
)

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from portal.extensions import db  # noqa: E402
from tests.browser.a11y import tab_through  # noqa: E402
from tests.conftest import DIARY_MONDAY, PATIENT_FNR, make_consultation, make_patient, make_staff, slot_ids  # noqa: E402
from tests.follow_ups.conftest import add_follow_up_price  # noqa: E402
from tests.orders.fixtures import make_insurer  # noqa: E402
from tests.patient_record.conftest import add_messages  # noqa: E402

pytestmark = pytest.mark.browser
PHONE_375 = {"width": 375, "height": 812}
DOCTOR = "doctor@test.example"


@pytest.fixture
def visits(app, sandbox, diary_set_up):
    """Line Danser: an earlier consultation with Dr. Lind (report filed) and a second one in progress now."""
    from portal.consultations import results, services

    add_follow_up_price(app, make_insurer(app))
    doctor = make_staff(app, "doctor", DOCTOR, "Dr. Ada Lind")
    patient = make_patient(app)
    ids = []
    for _ in range(2):
        consultation_id = make_consultation(app, patient)
        with app.app_context():
            services.pick_consultation(services.get_consultation(consultation_id), doctor_id=doctor)
            services.start_consultation(services.get_consultation(consultation_id), doctor_id=doctor)
            db.session.remove()
        ids.append(consultation_id)
    with app.app_context():
        services.finish_consultation(services.get_consultation(ids[0]), doctor_id=doctor)
        results.file_report(services.get_consultation(ids[0]), results.ReportIn(
            icpc2_code="R74", outcome="follow_up", notes="Sore throat for a week; review in two weeks."),
            author_id=doctor)
        earlier, now = services.get_consultation(ids[0]), services.get_consultation(ids[1])
        codes = earlier.code, now.code
        db.session.remove()
    return {"patient_id": patient, "earlier_id": ids[0], "earlier_code": codes[0], "current_id": ids[1],
            "current_code": codes[1]}


def test_a_doctor_finishes_reads_an_earlier_report_and_books_follow_ups(app, open_page, sign_in_as, visits,
                                                                      screens):
    page = open_page(DESKTOP)
    sign_in_as(page, "doctor", DOCTOR)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"/consultations/{visits['current_id']}")
    page.get_by_role("button", name="Finish consultation").click()
    expect(page.get_by_text("Consultation finished")).to_be_visible()

    page.get_by_role("link", name=re.compile("^Patient record and history")).click()
    expect(page.get_by_role("heading", name="Line Danser", level=1)).to_be_visible()
    expect(page.get_by_text("•••••••••16")).to_be_visible()
    page.get_by_role("button", name="Show the national id").click()
    expect(page.get_by_text(PATIENT_FNR)).to_be_visible()
    history = page.locator("ol.history")
    expect(history.locator("li.history-consultation")).to_have_count(2)
    assert_no_axe_violations(page, "the patient record")
    assert tab_through(page) == []  # every stop's focus can be seen
    screenshot(page, screens / "patient-record-doctor-desktop.png", full_page=True)

    # An earlier report, by keyboard: the reason first (htmx puts the form in the entry and focus on it) ...
    page.get_by_role("link", name=f"Open the report of consultation {visits['earlier_code']}").focus()
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_contain_text("is a sealed medical record")
    page.keyboard.press("Tab")  # into the reasons
    expect(page.locator(":focus")).to_have_attribute("type", "radio")
    page.keyboard.press("ArrowDown")  # the second reason
    expect(page.get_by_label("Following up earlier care")).to_be_checked()
    # ... then the report, and focus on what it says about the read.
    page.get_by_role("button", name=f"Open the report of consultation {visits['earlier_code']}").press("Enter")
    expect(page.get_by_text("Sore throat for a week; review in two weeks.")).to_be_visible()
    expect(page.locator(":focus")).to_have_text("Opened because: Following up earlier care. This read is in the "
                                                 "audit log.")
    assert page.evaluate(OVERFLOW) <= 0
    screenshot(page, screens / "patient-record-earlier-report.png", full_page=True)

    # A follow-up consultation with this doctor a week from now ...
    page.goto(f"/consultations/{visits['current_id']}")
    page.get_by_role("link", name="Book a follow-up").click()
    expect(page.get_by_role("heading", name="Book a follow-up for Line Danser")).to_be_visible()
    assert_no_axe_violations(page, "the follow-up page")
    assert tab_through(page) == []
    page.get_by_role("radio", name="With me").check()
    day = date.today() + timedelta(days=7)
    page.get_by_label("Not before").fill(day.isoformat())
    page.get_by_role("button", name="Book the follow-up consultation").click()
    expect(page.get_by_text("Follow-up consultation booked")).to_be_visible()
    expect(page.get_by_text("with the booking doctor")).to_be_visible()

    # ... and an appointment in the diary.
    page.get_by_role("link", name="Book a follow-up").click()
    page.get_by_label("Diary").select_option(label="Minor injuries — Dr Patel")
    page.get_by_label("Day").fill("2030-01-07")
    page.get_by_role("button", name="Show free times").click()
    page.get_by_role("radio", name="09:15").check()
    screenshot(page, screens / "follow-up-page-desktop.png", full_page=True)
    page.get_by_role("button", name="Book the appointment").click()
    expect(page.get_by_text("Follow-up appointment booked")).to_be_visible()
    expect(page.get_by_text("Appointment 2030-01-07 09:15 (Europe/London)")).to_be_visible()
    screenshot(page, screens / "consultation-with-follow-ups.png", full_page=True)
    assert_ran_clean(page)

    # The audit log shows the read and its reason.
    admin = open_page(DESKTOP)
    sign_in_as(admin, "admin")
    admin.goto("/admin/audit?action=consultation_result.read")
    row = admin.locator("tbody tr").filter(has_text="consultation_result.read").first
    expect(row).to_contain_text("Test Doctor")  # sign_in_as names the doctor it signs in
    expect(row).to_contain_text("reason: follow_up")


def test_a_secretary_on_a_phone_sees_the_history_but_no_report(app, open_page, sign_in_as, visits, screens):
    page = open_page(PHONE_375)
    sign_in_as(page, "secretary")
    page.goto(f"/patients/{visits['patient_id']}")
    expect(page.get_by_role("heading", name="Line Danser", level=1)).to_be_visible()
    expect(page.locator("li.history-consultation").filter(has_text=visits["earlier_code"])).to_contain_text(
        "Report filed")
    assert "Sore throat" not in page.content()
    expect(page.get_by_role("link", name=re.compile("Open the report"))).to_have_count(0)
    assert page.evaluate(OVERFLOW) <= 0
    assert_no_axe_violations(page, "the patient record on a phone")
    screenshot(page, screens / "patient-record-secretary-375.png", full_page=True)
    # The keyboard reaches "Show"; Enter reveals the id in place.
    tab_to(page, "Show the national id")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_text(PATIENT_FNR)
    assert_ran_clean(page)


def test_the_follow_up_page_works_on_a_phone(app, open_page, sign_in_as, visits, screens):
    page = open_page(PHONE_375)
    sign_in_as(page, "doctor", DOCTOR)
    page.goto(f"/consultations/{visits['current_id']}/follow-up?day=2030-01-07")
    page.get_by_label("Diary").select_option(label="Minor injuries — Dr Patel")
    page.get_by_role("button", name="Show free times").click()
    expect(page.get_by_role("radio", name="09:00")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
    assert_no_axe_violations(page, "the follow-up page on a phone")
    screenshot(page, screens / "follow-up-page-375.png", full_page=True)
    assert_ran_clean(page)
    # A day that has passed is refused next to its field (a 422 page, which the console reports), nothing booked.
    page.get_by_label("Not before").fill("2020-01-01")
    page.get_by_role("button", name="Book the follow-up consultation").click()
    expect(page.get_by_text("The day has passed: choose today or a later day.")).to_be_visible()
    expect(page.get_by_label("Not before")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate(OVERFLOW) <= 0
    assert [p for p in page.problems if "422" not in p] == []


def test_a_secretary_opens_the_record_from_the_diary_and_reads_older_entries_by_keyboard(
        app, open_page, sign_in_as, visits, diary_set_up, screens):
    from portal.patient_record import services as record
    from portal.scheduling import services as scheduling

    add_messages(app, visits["patient_id"], 60)  # more than a page of history
    with app.app_context():
        scheduling.book_slot(slot_ids(app, diary_set_up["service_id"])[0], patient_id=visits["patient_id"],
                             actor=("staff", None))
        older_count = len(record.history(visits["patient_id"], page=2).entries)
        db.session.remove()
    assert 0 < older_count < 50
    page = open_page(DESKTOP)
    sign_in_as(page, "secretary")
    page.goto(f"/schedules/{diary_set_up['schedule_id']}?day={DIARY_MONDAY}")
    page.get_by_role("link", name="Line Danser").click()
    expect(page.get_by_role("heading", name="Line Danser", level=1)).to_be_visible()
    entries = page.locator("ol.history li.history-entry")
    expect(entries).to_have_count(50)
    # "Older entries" appends the next page in place (htmx) and puts focus on the first entry it brought.
    page.get_by_role("link", name="Older entries").focus()
    page.keyboard.press("Enter")
    expect(entries).to_have_count(50 + older_count)
    expect(page.locator(":focus")).to_have_class(re.compile(r"\bhistory-entry\b"))
    assert page.evaluate("document.activeElement === document.querySelectorAll('ol.history li.history-entry')[50]")
    expect(page.get_by_role("link", name="Older entries")).to_have_count(0)
    assert "/patients/" in page.url and "page=" not in page.url  # appended, not a new page
    assert_no_axe_violations(page, "the patient record with older entries")
    assert_ran_clean(page)
