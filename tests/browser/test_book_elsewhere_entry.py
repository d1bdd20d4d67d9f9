"""From a triage request to "book at another service" in Chromium: the patient is prefilled from the
request's id alone. Axe and a phone-width check; screenshots in /tmp/screens/book-elsewhere-*.png."""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE
from tests.conftest import VALID_NHS_NUMBER

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.book_elsewhere.conftest import make_referral, make_triage_request, nhs_patient  # noqa: E402
from tests.browser.conftest import OVERFLOW, assert_no_axe_violations, assert_ran_clean  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport,name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_triage_request_opens_book_elsewhere_prefilled(app, open_page, sign_in_as, screens, viewport, name):
    patient_id = nhs_patient(app)
    care_request_id = make_triage_request(app, patient_id)
    page = sign_in_as(open_page(viewport), "secretary")
    page.goto(f"/triage/{care_request_id}")
    expect(page.get_by_role("heading", name="Booked at another service")).to_be_visible()
    page.screenshot(path=str(screens / f"triage-detail-{name}.png"), full_page=True)
    page.get_by_role("link", name="Book at another service").click()
    page.wait_for_url(f"**/book-elsewhere?care_request={care_request_id}")
    expect(page.locator("#booking-for")).to_contain_text("Amy Able")
    expect(page.get_by_label("NHS number")).to_have_value(VALID_NHS_NUMBER)
    assert page.evaluate(OVERFLOW) <= 0
    assert_no_axe_violations(page, f"book elsewhere for a triage request ({name})")
    page.screenshot(path=str(screens / f"book-elsewhere-for-triage-{name}.png"), full_page=True)
    assert_ran_clean(page)


def test_referral_panel_offers_book_elsewhere(app, open_page, sign_in_as, screens):
    referral_id = make_referral(app, nhs_patient(app))
    page = sign_in_as(open_page(PHONE), "secretary")
    page.goto(f"/referrals/{referral_id}")
    link = page.get_by_role("link", name="Book at another service")
    expect(link).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
    page.screenshot(path=str(screens / "referral-book-elsewhere-phone.png"), full_page=True)
    link.click()
    expect(page.get_by_label("NHS number")).to_have_value(VALID_NHS_NUMBER)
    assert_ran_clean(page)
