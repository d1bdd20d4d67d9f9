"""Partner self-scheduling in a real browser (Debian's chromium through Playwright), signing in
through the sandbox identity provider on loopback; axe checks of the partner and triage pages."""

import os

import pytest

from tests.conftest import DIARY_MONDAY, PASSWORD, make_staff

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


@pytest.fixture
def browser(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _partner_page(browser, live_server, tenant, user_label):
    page = browser.new_context(base_url=live_server).new_page()
    page.goto(f"/p/{tenant}/login")
    page.get_by_label(user_label).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Care requests").wait_for()
    return page


def _fill_visit(page, service_name, available_from=DIARY_MONDAY):
    page.get_by_label("Reason for visit").fill("Leg ulcer needs dressing")
    page.get_by_label("Service").select_option(label=service_name)
    page.get_by_label("Address of the visit").fill("1 High Street")
    page.get_by_label("Available from").fill(available_from)
    page.get_by_label("Callback number").fill("07700 900456")
    page.get_by_role("button", name="Find a time").click()


def test_partner_user_signs_in_searches_schedules_into_a_slot_and_sees_it_listed(app, browser, live_server, partners,
                                                                                 diary_set_up):
    page = _partner_page(browser, live_server, "northside", "Sam Scheduler")
    page.get_by_role("link", name="New care request").first.click()
    page.get_by_label("Name, birth date").fill("Pat")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Schedule Pat Northsideson").click()
    assert "/schedule" in page.url and "Northsideson" not in page.url
    _fill_visit(page, "Minor injuries unit")
    page.get_by_role("group", name="Free times").wait_for()
    page.get_by_role("button", name="Book").click()
    page.get_by_text("is scheduled").wait_for()
    row = page.locator("tr", has_text="Pat Northsideson").filter(has_text="scheduled")
    assert "2030-01-07 09:00" in row.inner_text()


def test_request_goes_to_triage_and_a_secretary_books_it(app, browser, live_server, partners, diary_set_up):
    from portal.extensions import db
    from portal.partners.models import Partner

    with app.app_context():
        db.session.get(Partner, partners["northside"]["id"]).self_scheduling = False
        db.session.commit()
    page = _partner_page(browser, live_server, "northside", "Alice Admin")
    page.get_by_role("link", name="New care request").first.click()
    page.get_by_label("Name, birth date").fill("1960-03-04")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Schedule Pat Northsideson").click()
    _fill_visit(page, "Minor injuries unit")
    page.get_by_text("went to triage").wait_for()

    make_staff(app, "secretary", "triage@test.example")
    staff = browser.new_context(base_url=live_server).new_page()
    staff.goto("/login")
    staff.get_by_label("E-mail").fill("triage@test.example")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_role("link", name="Triage").click()
    row = staff.locator("tr", has_text="Pat Northsideson").filter(has_text="Self-scheduling is off")
    assert "+447700900456" in row.inner_text()
    row.get_by_role("link", name="Handle").click()
    staff.get_by_role("button", name="Book").click()
    staff.get_by_text("Booked.").wait_for()

    # No reload: the partner's list polls its change counter and shows the outcome by itself.
    assert "/partner/care-requests" in page.url
    row = page.locator("tr", has_text="Pat Northsideson").filter(has_text="booked")
    row.wait_for(timeout=10_000)
    assert "2030-01-07 09:00" in row.inner_text()


def test_partner_and_triage_pages_have_no_axe_violations(app, browser, live_server, partners, diary_set_up):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = _partner_page(browser, live_server, "northside", "Alice Admin")
    care_request_id = partners["northside"]["care_request_id"]
    for url in ("/partner/care-requests", "/partner/care-requests?tab=past",
                f"/partner/care-requests/{care_request_id}", "/partner/care-requests/new", "/partner/users",
                "/partner/profile"):
        page.goto(url)
        results = axe.run(page)
        assert results.violations_count == 0, (url, results.generate_report())
    page.goto("/partner/care-requests/new")
    page.get_by_label("Name, birth date").fill("Pat")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Schedule Pat Northsideson").wait_for()
    assert Axe().run(page).violations_count == 0
    page.get_by_role("button", name="Schedule Pat Northsideson").click()
    page.get_by_label("Reason for visit").wait_for()
    for step in ("visit", "slots"):
        results = axe.run(page)
        assert results.violations_count == 0, (step, results.generate_report())
        if step == "visit":
            _fill_visit(page, "Minor injuries unit")
            page.get_by_role("group", name="Free times").wait_for()

    make_staff(app, "secretary", "axe-triage@test.example")
    staff = browser.new_context(base_url=live_server).new_page()
    staff.goto("/login")
    staff.get_by_label("E-mail").fill("axe-triage@test.example")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    for url in ("/triage", f"/triage/{care_request_id}"):
        staff.goto(url)
        results = axe.run(staff)
        assert results.violations_count == 0, (url, results.generate_report())
