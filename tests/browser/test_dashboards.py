"""Dashboards in Chromium: a secretary picks a period, sees the charts, opens the numbers with the
keyboard; axe passes on desktop and on a 390 px phone, and nothing scrolls sideways."""

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE, SCREENS
from tests.conftest import make_patient
from tests.reports.conftest import consultation_at as _consultation, filed_report as _report

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from tests.browser.conftest import OVERFLOW, assert_no_axe_violations, assert_ran_clean, screenshot  # noqa: E402

pytestmark = pytest.mark.browser
FIRST_DAY = datetime(2030, 3, 1, 8, 0)


@pytest.fixture
def three_weeks(app):
    """Consultations on 21 days with varied waits and treatments, and some reports."""
    rng = random.Random(7)
    patient_id = make_patient(app)
    outcomes = ["helped", "helped", "referred_gp", "prescription", "follow_up", "referred_specialist"]
    for day in range(21):
        for n in range(rng.randint(1, 3)):
            created = FIRST_DAY + timedelta(days=day, hours=n)
            cid = _consultation(app, patient_id, created, waited_minutes=rng.randint(5, 120),
                                treated_minutes=rng.randint(8, 40) if n else None)
            if n:
                _report(app, cid, rng.choice(outcomes), created + timedelta(hours=2))


def show_period(page):
    page.goto("/dashboard")
    page.get_by_label("From", exact=True).fill("2030-03-01")
    page.get_by_label("To", exact=True).fill("2030-03-21")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/dashboard?since=2030-03-01&until=2030-03-21")


def test_dashboard_on_desktop_passes_axe_and_opens_numbers_by_keyboard(open_page, sign_in_as, three_weeks):
    page = sign_in_as(open_page(DESKTOP), "secretary")
    show_period(page)
    assert page.locator("svg.chart").count() == 6  # travel-claim outcomes too
    assert page.get_by_role("img", name="Waiting time per day").is_visible()
    summary = page.get_by_text("Numbers: waiting time per day")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("table", name="Waiting time per day").is_visible()
    assert_no_axe_violations(page, "dashboard with the waiting-time numbers open")
    assert_ran_clean(page)
    SCREENS.mkdir(parents=True, exist_ok=True)
    screenshot(page, SCREENS / "dashboard-desktop.png", full_page=True)


def test_dashboard_on_a_phone_fits_and_passes_axe(open_page, sign_in_as, three_weeks):
    page = sign_in_as(open_page(PHONE), "admin")
    show_period(page)
    assert page.evaluate(OVERFLOW) <= 0
    assert_no_axe_violations(page, "dashboard on a phone")
    assert_ran_clean(page)
    SCREENS.mkdir(parents=True, exist_ok=True)
    screenshot(page, SCREENS / "dashboard-phone.png", full_page=True)


def test_a_bad_period_shows_the_error_by_the_field(open_page, sign_in_as):
    page = sign_in_as(open_page(PHONE), "secretary")
    page.goto("/dashboard?since=2030-03-10&until=2030-03-01")
    assert page.get_by_text("Must not be before the start date.").is_visible()
    assert_no_axe_violations(page, "dashboard with a bad period")


def test_admin_opens_the_job_queues_and_they_pass_axe_on_a_phone(open_page, sign_in_as):
    page = sign_in_as(open_page(PHONE), "admin")
    page.get_by_role("link", name="Job queues").click()
    page.get_by_role("heading", name="Job queues").wait_for()
    assert page.url.endswith("/admin/rq")
    assert page.get_by_role("row", name="notifications").count() == 1
    assert page.problems == []
    assert_no_axe_violations(page, "job queues")
    assert page.evaluate(OVERFLOW) <= 0
    SCREENS.mkdir(parents=True, exist_ok=True)
    screenshot(page, SCREENS / "job-queues-phone.png")
