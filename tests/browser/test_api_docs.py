"""The integrators' page on a phone: readable without sideways scrolling, no axe findings, no CSP reports."""

import pytest

from tests.browser.conftest import PHONE, SCREENS, assert_no_axe_violations, assert_ran_clean

pytestmark = pytest.mark.browser


def test_the_api_page_reads_on_a_375px_phone(open_page):
    page = open_page({"width": 375, "height": PHONE["height"]})
    page.goto("/api/docs")
    page.get_by_role("link", name="Signing a referral").click()
    assert page.get_by_role("heading", name="Worked example").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "api-docs-phone.png"), full_page=False)
    page.get_by_role("link", name="POST /fhir/stu3/Appointment").first.click()
    assert page.get_by_role("heading", name="POST /fhir/stu3/Appointment").is_visible()
    page.screenshot(path=str(SCREENS / "api-docs-phone-appointment.png"), full_page=False)
    assert_ran_clean(page)
    assert_no_axe_violations(page, "the API page")
