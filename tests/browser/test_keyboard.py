"""Each audience's main flow with the keyboard only, checking at every Tab stop that focus can be seen
(an outline of 2 px or more with 3:1 contrast against what is beside it, WCAG 2.2 1.4.11).

Secretary: opens a referral from the queue and tabs through its panel. Doctor: picks, starts, finishes
and reports. Partner: finds a patient and opens the visit form. Patient: passes the identity check into
the waiting room. (Check-in by keyboard on a phone is test_checkin_phone.py; admins and reporting: every
Tab stop of their pages.)
"""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE
from tests.conftest import make_consultation, make_staff

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.browser.a11y import focus_problem, tab_through  # noqa: E402
from tests.browser.conftest import another_referral, assert_ran_clean, focused_text  # noqa: E402

pytestmark = pytest.mark.browser


def tab_to(page, text: str, limit: int = 60):
    """Tab until the focused element's text starts with `text`, checking focus is visible at each stop."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        problem = focus_problem(page)
        assert problem is None, problem
        if focused_text(page).startswith(text):
            return
    pytest.fail(f"Tab never reached {text!r}")


def tab_until(page, locator, limit: int = 60):
    """Tab until `locator` has focus, checking focus is visible at each stop."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        problem = focus_problem(page)
        assert problem is None, problem
        if locator.evaluate("el => el === document.activeElement"):
            return
    pytest.fail(f"Tab never reached {locator}")


def start_from_the_top(page):
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.locator("body").focus()


def test_secretary_screens_a_referral_by_keyboard_with_focus_always_visible(open_page, sign_in_as, send_referral,
                                                                            seed_referral):
    send_referral(another_referral(seed_referral, "Line", "Danser"))
    page = sign_in_as(open_page(PHONE), "secretary")
    page.goto("/queue")
    assert tab_through(page) == []
    start_from_the_top(page)
    tab_to(page, "Screen Line Danser")
    page.keyboard.press("Enter")
    expect(page.locator("#referral-panel h2")).to_be_focused()
    # Every stop in the panel (outcomes, note, buttons): its call-logging by keyboard is in test_screening.py.
    assert tab_through(page) == []
    assert_ran_clean(page)


def test_doctor_runs_a_consultation_by_keyboard_with_focus_always_visible(app, open_page, sign_in_as, sandbox):
    make_consultation(app)
    page = sign_in_as(open_page(DESKTOP), "doctor")
    assert tab_through(page) == []
    start_from_the_top(page)
    tab_to(page, "Pick")
    page.keyboard.press("Enter")
    expect(page.get_by_text("is yours")).to_be_visible()
    tab_to(page, "Start consultation")
    page.keyboard.press("Enter")
    notice = page.locator("#consultation-panel .notice")
    expect(notice).to_contain_text("Consultation started")
    expect(notice).to_be_focused()  # the news, not the top of the page, after the panel is swapped
    assert focus_problem(page) is None
    page.once("dialog", lambda dialog: dialog.accept())
    tab_to(page, "Finish consultation")
    page.keyboard.press("Enter")
    expect(notice).to_contain_text("file the report")
    expect(notice).to_be_focused()
    tab_until(page, page.get_by_label("ICPC-2 code"))
    page.keyboard.type("R72 Strep throat")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Outcome")).to_be_focused()
    page.keyboard.press("ArrowDown")
    tab_to(page, "File report")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Report filed.")).to_be_visible()
    assert_ran_clean(page)


def test_partner_finds_a_patient_and_opens_the_visit_form_by_keyboard(app, open_page, partners, diary_set_up):  # noqa: F811
    page = open_page(DESKTOP)
    page.goto("/p/northside/login")
    page.get_by_label("Sam Scheduler").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Care requests").wait_for()
    page.problems.clear()  # the sandbox provider's own page asked for a favicon it does not have
    assert tab_through(page) == []
    start_from_the_top(page)
    tab_to(page, "New care request")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="New care request").wait_for()
    tab_until(page, page.get_by_label("Name, birth date"))
    page.keyboard.type("Pat")
    expect(page.get_by_role("button", name="Schedule Pat Northsideson")).to_be_visible()
    tab_to(page, "Schedule Pat Northsideson")
    page.keyboard.press("Enter")
    page.get_by_label("Reason for visit").wait_for()
    assert tab_through(page) == []
    assert_ran_clean(page)


def test_patient_passes_the_identity_check_by_keyboard(app, open_page, sandbox):
    from portal.consultations import services
    from portal.extensions import db

    make_staff(app, "doctor", "doc@test.example")
    consultation_id = make_consultation(app)
    with app.app_context():
        consultation = services.get_consultation(consultation_id)
        link = services.create_patient_link(consultation)
        db.session.commit()
    page = open_page(PHONE)
    page.goto(f"/c/{link}")
    assert tab_through(page) == []
    start_from_the_top(page)
    tab_until(page, page.get_by_label("Your last name"))
    page.keyboard.type("Danser")
    page.keyboard.press("Tab")
    page.keyboard.type("11131969")  # the date field takes digits in the locale's order (en-US: month first)
    page.keyboard.press("Enter")
    page.wait_for_url("**/c/room")
    assert tab_through(page) == []
    assert_ran_clean(page)


@pytest.mark.parametrize("role, paths", [
    ("admin", ["/admin/orders", "/admin/audit?since=2000-01-01", "/admin/rq", "/admin/partners", "/scheduling/admin"]),
    ("reporting", ["/reports/insurer"]),
])
def test_admin_and_reporting_pages_show_focus_at_every_tab_stop(open_page, sign_in_as, role, paths):
    page = sign_in_as(open_page(DESKTOP), role)
    for path in paths:
        page.goto(path)
        assert tab_through(page) == [], path
    assert_ran_clean(page)
