"""The diary's booking form for a new patient in Chromium: errors next to their fields, then booked.
Axe on desktop and phone; screenshots in /tmp/screens/book-new-patient-*.png."""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE
from tests.conftest import slot_ids

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import OVERFLOW, assert_no_axe_violations, assert_ran_clean  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport,name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_secretary_books_a_new_patient_from_the_diary(app, open_page, sign_in_as, screens, diary_set_up,
                                                      viewport, name):
    page = sign_in_as(open_page(viewport), "secretary")
    page.goto(f"/slots/{slot_ids(app)[0]}/book")
    page.get_by_label("Patient's fødselsnummer or NHS number").fill("13116900216")
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_text("fill in their details below")).to_be_visible()
    page.get_by_label("First name").fill("Line")
    page.get_by_label("Last name").fill("Danser")
    page.get_by_label("Date of birth").fill("1970-01-01")
    page.get_by_label("Mobile phone").fill("12")
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_text("does not match the fødselsnummer")).to_be_visible()
    expect(page.get_by_text("wrong number of digits")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
    page.screenshot(path=str(screens / f"book-new-patient-errors-{name}.png"), full_page=True)
    assert_no_axe_violations(page, f"booking a new patient with errors ({name})")
    page.get_by_label("Date of birth").fill("1969-11-13")
    page.get_by_label("Mobile phone").fill("+47 912 34 567")
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_text("Booked Line Danser at")).to_be_visible()
    # the two refused submissions are 422s by design; anything else (a CSP report, a script error) is not
    page.problems = [p for p in page.problems if "status of 422" not in p]
    assert_ran_clean(page)
