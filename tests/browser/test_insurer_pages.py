"""Insurer, deal and price-list pages in Chromium on a 375 px phone: add, then edit, with axe on each page."""

import re
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import OVERFLOW, assert_no_axe_violations, assert_ran_clean, screenshot  # noqa: E402

pytestmark = pytest.mark.browser
NARROW = {"width": 375, "height": 740}


def _clean(page, where):
    assert page.evaluate(OVERFLOW) <= 0, f"{where} scrolls sideways"
    assert_no_axe_violations(page, where)


def test_an_admin_adds_an_insurer_and_a_deal_on_a_phone(app, open_page, sign_in_as, screens):
    page = sign_in_as(open_page(NARROW), "admin")
    page.goto("/admin/insurers")
    _clean(page, "insurers")
    page.get_by_label("Name").fill("Nordlys Helse")
    page.get_by_label("Organisation number").fill("912345678")
    page.get_by_label("Organisation number").press("Enter")
    expect(page.get_by_role("heading", name="Nordlys Helse")).to_be_visible()
    page.get_by_label("Name of the deal").fill("Avtale 2031")
    page.get_by_label("In force from").fill("2031-01-01")
    page.get_by_label("Price of a video consultation").fill("600")
    page.get_by_label("Price of any other consultation").fill("420.50")
    page.get_by_label("Price of any other follow-up").fill("300")
    page.get_by_role("button", name="Add deal").click()
    expect(page.get_by_text("Deal Avtale 2031 added.")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("follow-up: any 300.00"))).to_be_visible()
    _clean(page, "insurer with its deals")
    screenshot(page, screens / "insurer.png", full_page=True)
    page.get_by_role("link", name="Avtale 2031").click()
    expect(page.get_by_label("Price of a video consultation")).to_have_value("600.00")
    _clean(page, "deal")
    page.get_by_label("Price of a video consultation").fill("650")
    page.get_by_role("button", name="Save deal").click()
    expect(page.get_by_role("cell", name="any 420.50, video 650.00")).to_be_visible()
    assert_ran_clean(page)
