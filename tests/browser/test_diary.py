"""The diary in a real browser (Debian's chromium through Playwright): htmx swaps one row in place,
sending the CSRF header that <body> carries, and the page works with the keyboard."""

import os

import pytest

from tests.conftest import DIARY_MONDAY, PASSWORD, make_staff, pass_code_step, slot_ids

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(base_url=live_server)
        yield page
        browser.close()


def test_secretary_blocks_and_unblocks_a_slot_without_a_page_load(app, page, diary_set_up):
    make_staff(app, "secretary", "browser@test.example")
    first = slot_ids(app)[0]
    page.goto("/login")
    page.get_by_label("E-mail").fill("browser@test.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/schedules/{diary_set_up['schedule_id']}?day={DIARY_MONDAY}")
    page.evaluate("window.notReloaded = true")
    row = page.locator(f"#slot-{first}")
    row.get_by_role("button", name="Block").click()
    row.get_by_text("blocked", exact=True).wait_for()
    assert row.get_by_text("Slot blocked.").is_visible()
    row.get_by_role("button", name="Unblock").focus()
    page.keyboard.press("Enter")
    row.get_by_text("free", exact=True).wait_for()
    assert page.evaluate("window.notReloaded") is True


def test_scheduling_pages_have_no_axe_violations(app, page, diary_set_up):
    from axe_playwright_python.sync_playwright import Axe

    make_staff(app, "admin", "axe@test.example")
    page.goto("/login")
    page.get_by_label("E-mail").fill("axe@test.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_code_step(page, app, "axe@test.example")
    axe = Axe()
    for url in ("/schedules", f"/schedules/{diary_set_up['schedule_id']}?view=week&day={DIARY_MONDAY}",
                "/scheduling/admin", f"/slots/{slot_ids(app)[0]}/book", "/book-elsewhere"):
        page.goto(url)
        results = axe.run(page)
        assert results.violations_count == 0, (url, results.generate_report())


def test_admin_types_hours_that_overlap_and_is_told_next_to_the_opening_time(app, page, diary_set_up):
    make_staff(app, "admin", "hours@test.example")
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/login")
    page.get_by_label("E-mail").fill("hours@test.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_code_step(page, app, "hours@test.example")
    page.goto("/scheduling/admin")
    page.get_by_label("Weekday").select_option(label="Monday")
    opens = page.get_by_label("Opens")
    opens.fill("11:00")
    page.get_by_label("Closes").fill("13:00")
    page.get_by_label("Slot length (minutes)").fill("20")
    page.get_by_role("button", name="Add weekly hours").click()
    # Monday 09:00-12:00 is set already (diary_set_up): the page says so where the opening time is typed.
    opens = page.get_by_label("Opens")
    assert opens.get_attribute("aria-invalid") == "true"
    error = page.locator(f"#{opens.get_attribute('aria-describedby')}")
    assert "overlap 09:00–12:00" in error.inner_text()
    opens.fill("12:00")
    page.get_by_role("button", name="Add weekly hours").click()
    page.get_by_text("Weekly hours added.").wait_for()
    assert page.get_by_text("12:00").first.is_visible()
