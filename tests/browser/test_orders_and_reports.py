"""Orders and insurer reports in Chromium: an admin changes a discount, reporting watches a report being built.

Screenshots land in /tmp/screens/ (orders-*.png, insurer-report-*.png) for a person to look at.
"""

import re
from datetime import datetime
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import (  # noqa: E402
    OVERFLOW,
    assert_no_axe_violations,
    assert_not_reloaded,
    assert_ran_clean,
    mark_page,
    screenshot,
)
from tests.conftest import make_patient, make_staff  # noqa: E402
from tests.orders.fixtures import make_insurer, serve_consultation  # noqa: E402
from tests.reports.conftest import run_report_jobs  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture
def billed(app):
    insurer_id = make_insurer(app)
    doctor = make_staff(app, "doctor")
    patient = make_patient(app)
    for day in (2, 3, 4):
        serve_consultation(app, patient, ended=datetime(2026, 3, day, 10), author_id=doctor)
    return insurer_id


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_admin_filters_orders_and_changes_a_discount_by_keyboard(open_page, sign_in_as, billed, screens,
                                                                 viewport, name):
    page = sign_in_as(open_page(viewport), "admin")
    page.goto("/admin/orders")
    page.get_by_label("Insurer", exact=True).select_option(label="Fjord Forsikring")
    page.get_by_label("Served from").fill("2026-03-01")
    page.get_by_label("Served to").fill("2026-03-31")
    page.get_by_role("button", name="Filter").press("Enter")
    first_order = page.get_by_role("link", name=re.compile(r"^#\d+$")).last  # newest first: the 2 March one
    expect(first_order).to_be_visible()
    expect(page.locator(".totals")).to_contain_text("£1,950.00")  # the install's currency, formatted by Babel
    assert page.evaluate(OVERFLOW) <= 0
    assert_no_axe_violations(page, "orders list")
    screenshot(page, screens / f"orders-list-{name}.png", full_page=True)

    first_order.press("Enter")
    discount = page.get_by_label("Discount (%)")
    discount.fill("150")
    discount.press("Enter")
    expect(page.get_by_text("The discount must be between 0 % and 100 %.")).to_be_visible()
    assert_no_axe_violations(page, "order with a form error")
    screenshot(page, screens / f"orders-detail-error-{name}.png", full_page=True)
    page.problems.clear()  # the form error page is a 400, which Chromium logs; that one was asked for
    page.get_by_label("Discount (%)").fill("10")
    page.get_by_label("Discount (%)").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Discount changed")
    expect(page.locator(".totals")).to_contain_text("£585.00")
    assert page.evaluate(OVERFLOW) <= 0
    assert_no_axe_violations(page, "order detail")
    screenshot(page, screens / f"orders-detail-{name}.png", full_page=True)
    assert_ran_clean(page)


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_reporting_watches_the_report_being_built_and_gets_the_link(app, open_page, sign_in_as, billed, screens,
                                                                    viewport, name):
    page = sign_in_as(open_page(viewport), "reporting")
    page.goto("/reports/insurer")
    assert_no_axe_violations(page, "insurer reports page")
    page.get_by_label("Insurer", exact=True).select_option(label="Fjord Forsikring")
    page.get_by_label("From", exact=True).fill("2026-03-01")
    page.get_by_label("To (inclusive)").fill("2026-03-31")
    screenshot(page, screens / f"insurer-report-form-{name}.png", full_page=True)
    page.get_by_role("button", name="Build report").press("Enter")
    expect(page.get_by_text("Waiting for a worker")).to_be_visible()
    assert_no_axe_violations(page, "report run, queued")
    screenshot(page, screens / f"insurer-report-queued-{name}.png", full_page=True)
    mark_page(page)

    run_report_jobs(app)

    link = page.get_by_role("link", name="Download")
    expect(link).to_be_visible(timeout=5000)
    assert_not_reloaded(page)  # the progress block was swapped in by the poll
    expect(page.get_by_text("Ready: 3 consultations")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
    assert_no_axe_violations(page, "report run, done")
    screenshot(page, screens / f"insurer-report-done-{name}.png", full_page=True)
    with page.expect_download() as download:
        link.press("Enter")
    assert download.value.suggested_filename.endswith(".xlsx")
    assert_ran_clean(page)
