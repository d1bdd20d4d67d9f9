"""A doctor picks, starts, finishes and reports on a consultation in Chromium, typing into the ICPC-2
picker as a doctor does: the list of codes narrows to what was typed, old notices do not linger,
and the console stays clean (CSP on)."""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP
from tests.conftest import make_consultation

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import assert_no_axe_violations, assert_ran_clean  # noqa: E402

pytestmark = pytest.mark.browser


def picker_options(page) -> list[str]:
    return page.locator("#icpc2-codes option").evaluate_all("options => options.map(o => o.value)")


def test_doctor_types_into_the_icpc2_picker_and_it_narrows_to_what_was_typed(app, open_page, sign_in_as, sandbox,
                                                                          screens):
    make_consultation(app)
    page = sign_in_as(open_page(DESKTOP), "doctor")
    page.get_by_role("button", name="Pick").first.click()
    expect(page.get_by_text("is yours. Start it when you are ready")).to_be_visible()

    page.get_by_role("button", name="Start consultation").click()
    expect(page.get_by_text("Consultation started.")).to_be_visible()
    # The notice of the pick was about the step before; it is gone, not left above the new one.
    expect(page.get_by_text("is yours. Start it when you are ready")).to_have_count(0)

    # Something gave the panel a style attribute through the CSSOM, which the CSP allows (axe-core
    # does that while it checks contrast). htmx must not copy it onto the swapped-in panel with
    # setAttribute, which the CSP blocks ("Applying inline style violates ... style-src 'self'").
    page.locator("#consultation-panel").evaluate("panel => { panel.style.outline = '0px'; }")
    assert page.locator("#consultation-panel").get_attribute("style")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Finish consultation").click()
    picker = page.get_by_label("ICPC-2 code")
    expect(picker).to_be_visible()
    assert picker_options(page)[0].startswith("A01 ")  # the everyday list before anything is typed

    picker.press_sequentially("throat", delay=30)
    expect(page.locator("#icpc2-codes option").first).to_have_attribute("value", "R21 Throat symptom/complaint")
    assert {o.split()[0] for o in picker_options(page)} >= {"R21", "R72"}
    assert not any(o.startswith("A01 ") for o in picker_options(page))

    picker.fill("")
    picker.press_sequentially("R72", delay=30)
    expect(page.locator("#icpc2-codes option").first).to_have_attribute("value", "R72 Strep throat")
    picker.fill("R72 Strep throat")
    page.get_by_label("Outcome").select_option("helped")
    page.get_by_role("button", name="File report").click()
    expect(page.get_by_text("Report filed.")).to_be_visible()
    expect(page.get_by_text("R72 Strep throat")).to_be_visible()
    page.screenshot(path=str(screens / "doctor-report-filed.png"), full_page=True)
    assert_ran_clean(page)
    assert_no_axe_violations(page, "consultation with its report")


def test_favicon_ico_is_served(open_page):
    page = open_page(DESKTOP)
    response = page.goto("/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
