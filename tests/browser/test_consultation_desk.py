"""A secretary works the consultation list in Chromium: a new one appears by itself, she assigns a
doctor in the panel beside the list, and cancels another with a reason. Axe on desktop and phone.
Screenshots land in /tmp/screens/consultation-desk-*.png.
"""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE
from tests.conftest import make_consultation, make_staff

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import OVERFLOW, assert_no_axe_violations, assert_not_reloaded, assert_ran_clean, mark_page  # noqa: E402

pytestmark = pytest.mark.browser


def test_secretary_assigns_and_cancels_from_the_live_list(app, open_page, sign_in_as, screens):
    make_staff(app, "doctor", "house@test.example", name="Dr House")
    first = make_consultation(app)
    page = sign_in_as(open_page(DESKTOP), "secretary")
    page.get_by_role("link", name="Consultations").click()
    expect(page.get_by_role("heading", name="Consultations", exact=True)).to_be_visible()
    mark_page(page)
    second = make_consultation(app)
    from portal import live
    from portal.consultations.services import QUEUE_TOPIC

    with app.app_context():
        live.bump(QUEUE_TOPIC)
    expect(page.locator(f"#consultation-row-{second}")).to_be_visible(timeout=4000)

    page.locator(f"#handle-{first}").click()
    panel = page.locator("#consultation-panel")
    expect(panel.get_by_role("heading", name="Assign a doctor")).to_be_visible()
    panel.get_by_label("Doctor").select_option(label="Dr House")
    panel.get_by_role("button", name="Assign").click()
    expect(panel.get_by_text("Doctor assigned.")).to_be_visible()
    expect(page.locator(f"#consultation-row-{first}")).to_contain_text("Dr House", timeout=4000)

    assert_ran_clean(page)
    page.locator(f"#handle-{second}").click()
    expect(panel.get_by_role("heading", name="Cancel")).to_be_visible()
    panel.get_by_label("Reason for cancelling").select_option("duplicate")
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Cancel consultation").click()
    expect(panel.get_by_text("The patient is being told")).to_be_visible()
    expect(page.locator(f"#consultation-row-{second}")).to_have_count(0, timeout=4000)
    assert_not_reloaded(page)
    assert_ran_clean(page)
    # axe last: it leaves empty style attributes behind (htmx no longer copies them: attributesToSettle)
    page.locator(f"#handle-{first}").click()
    expect(panel.get_by_role("definition").filter(has_text="Dr House")).to_be_visible()
    assert_no_axe_violations(page, "consultation list with a panel open")
    page.screenshot(path=str(screens / "consultation-desk-desktop.png"), full_page=True)


def test_consultation_list_works_on_a_phone(app, open_page, sign_in_as, screens):
    make_staff(app, "doctor", "house@test.example", name="Dr House")
    cid = make_consultation(app)
    page = sign_in_as(open_page(PHONE), "secretary")
    page.goto("/consultations")
    page.locator(f"#handle-{cid}").click()
    expect(page.locator("#consultation-panel").get_by_role("heading", name="Assign a doctor")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0, "the page scrolls sideways on a phone"
    assert_no_axe_violations(page, "consultation list on a phone")
    page.screenshot(path=str(screens / "consultation-desk-phone.png"), full_page=True)
    assert_ran_clean(page)
