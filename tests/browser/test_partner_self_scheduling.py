"""Partner self-scheduling in a real browser (Debian's chromium through Playwright), signing in
through the sandbox identity provider on loopback; axe checks of the partner and triage pages."""

import os
from pathlib import Path

import pytest

from tests.conftest import DIARY_MONDAY, PASSWORD, make_staff, pass_code_step

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


def _fill_visit(page, service_name, available_from=DIARY_MONDAY, button="Find a time"):
    page.get_by_label("Reason for visit").fill("Leg ulcer needs dressing")
    page.get_by_label("Service").select_option(label=service_name)
    page.get_by_label("Address of the visit").fill("1 High Street")
    page.get_by_label("Available from").fill(available_from)
    page.get_by_label("Callback number").fill("07700 900456")
    page.get_by_role("button", name=button).click()


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
    assert "7 Jan 2030, 09:00" in row.inner_text()


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
    page.get_by_text("Self-scheduling is off").wait_for()
    _fill_visit(page, "Minor injuries unit", button="Send to triage")
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
    assert "7 Jan 2030, 09:00" in row.inner_text()


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


SCREENS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/screens"))
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def _staff_page(browser, live_server, app, role, email, viewport=None):
    make_staff(app, role, email)
    page = browser.new_context(base_url=live_server, viewport=viewport or {"width": 1280, "height": 900}).new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_code_step(page, app, email)
    page.get_by_role("link", name="Partners").wait_for()
    return page


def _shot(page, name):
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.screenshot(path=str(SCREENS / name), full_page=True, caret="initial")


@pytest.mark.parametrize("viewport, label", [({"width": 1280, "height": 900}, "desktop"),
                                             ({"width": 390, "height": 844}, "phone")])
def test_admin_adds_and_edits_a_partner_by_keyboard_and_the_screen_passes_axe(app, browser, live_server, partners,
                                                                               viewport, label):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = _staff_page(browser, live_server, app, "admin", f"partners-{label}@test.example", viewport)
    page.get_by_role("link", name="Partners").click()
    page.get_by_role("heading", name="Partners").wait_for()
    assert page.evaluate(OVERFLOW) <= 0, "the partner list scrolls sideways"
    _shot(page, f"partners-list-{label}.png")
    assert axe.run(page).violations_count == 0

    page.get_by_role("link", name="Add a partner").click()
    page.get_by_label("Name").focus()
    page.keyboard.type("Bay Care")
    page.keyboard.press("Tab")
    page.keyboard.type("bay-care")
    page.keyboard.press("Tab")
    page.keyboard.type("https://login.bay.example/")
    page.keyboard.press("Tab")
    page.keyboard.type("portal")
    page.keyboard.press("Tab")
    page.keyboard.type("bay-secret")
    page.get_by_label("Patients this age or older go to triage").fill("5")
    page.get_by_label("Patients this age or younger go to triage").fill("10")
    page.get_by_label("Patients this age or younger go to triage").press("Enter")
    error = page.get_by_text("every patient would go to triage")
    error.wait_for()
    assert page.get_by_label("Patients this age or younger go to triage").get_attribute("aria-invalid") == "true"
    assert page.evaluate(OVERFLOW) <= 0, "the settings form scrolls sideways"
    _shot(page, f"partner-settings-errors-{label}.png")
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()

    page.get_by_label("Client secret").fill("bay-secret")  # a password field is never filled back
    page.get_by_label("Patients this age or older go to triage").fill("80")
    page.get_by_label("Patients this age or younger go to triage").fill("1")
    page.get_by_label("Symptoms that go to triage, one per line").fill("chest pain\nshortness of breath")
    page.get_by_role("button", name="Add partner").press("Enter")
    page.get_by_text("Partner Bay Care added.").wait_for()
    row = page.locator("tr", has_text="Bay Care")
    assert "/p/bay-care/login" in row.inner_text() and "chest pain, shortness of breath" in row.inner_text()

    row.get_by_role("link").click()
    page.get_by_role("heading", name="Settings of Bay Care").wait_for()
    assert page.get_by_label("Client secret").input_value() == ""
    _shot(page, f"partner-settings-edit-{label}.png")
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
    page.get_by_label("Self-scheduling").uncheck()
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings of Bay Care saved.").wait_for()
    assert "off" in page.locator("tr", has_text="Bay Care").inner_text()


def test_partner_admin_sees_own_settings_on_the_profile_page(app, browser, live_server, partners):
    from axe_playwright_python.sync_playwright import Axe

    page = _partner_page(browser, live_server, "northside", "Alice Admin")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("heading", name="Settings of Northside").wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    _shot(page, "partner-profile-settings-phone.png")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_signed_out_partner_user_lands_on_their_tenant_page(app, browser, live_server, partners):
    from axe_playwright_python.sync_playwright import Axe

    page = _partner_page(browser, live_server, "northside", "Alice Admin")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to Northside").wait_for()
    assert "/p/northside/login" in page.url
    _shot(page, "partner-signed-out-desktop.png")
    assert Axe().run(page).violations_count == 0
    page.goto("/partner/users")
    page.get_by_role("heading", name="Sign in to Northside").wait_for()
    fresh = browser.new_context(base_url=live_server).new_page()
    fresh.goto("/partner/care-requests")
    fresh.get_by_role("heading", name="Where to sign in").wait_for()
    assert Axe().run(fresh).violations_count == 0
    page.get_by_role("link", name="Sign in with Northside").click()
    page.get_by_label("Alice Admin").wait_for()  # at the provider again, by choice
