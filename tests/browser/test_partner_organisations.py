"""An admin deactivates a partner organisation in Chromium, as an admin would: the partner user's open
browser is signed out on its next click and cannot sign in; reactivated, they sign in again. The admin's
page (at 375 px) and the page the partner user lands on pass axe."""

import re
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, OVERFLOW, assert_no_axe_violations, assert_ran_clean, screenshot

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser
NARROW = {"width": 375, "height": 740}


def _partner_signs_in(page, who="Sam Scheduler"):
    page.goto("/p/northside/login")
    page.get_by_label(who).check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Care requests")).to_be_visible()


def _check(page, where, screens, name):
    assert page.evaluate(OVERFLOW) <= 0, f"{where} scrolls sideways"
    assert_no_axe_violations(page, where)
    screenshot(page, screens / f"partner-organisation-{name}.png", full_page=True)


def test_an_admin_deactivates_a_partner_whose_users_are_signed_out_and_reactivates_it(
        app, open_page, sign_in_as, partners, screens):
    partner_user = open_page(DESKTOP)
    _partner_signs_in(partner_user)  # on the live list, which polls every 2 s
    partner_admin = open_page(DESKTOP)
    _partner_signs_in(partner_admin, "Alice Admin")
    partner_admin.get_by_role("link", name="Profile").click()  # a page that does not poll
    expect(partner_admin.get_by_role("heading", name="Profile")).to_be_visible()

    admin = sign_in_as(open_page(NARROW), "admin")
    admin.goto("/admin/partners")
    admin.get_by_role("link", name=re.compile("^Northside")).click()
    expect(admin.get_by_role("heading", name="Access")).to_be_visible()
    _check(admin, "partner settings with the access control (375 px)", screens, "active")
    admin.get_by_role("button", name="Deactivate Northside").click()
    expect(admin.get_by_text("Northside is deactivated: its 3 users are signed out")).to_be_visible()
    expect(admin.get_by_role("button", name="Reactivate Northside")).to_be_visible()
    _check(admin, "a deactivated partner's settings (375 px)", screens, "deactivated")

    # The open list signs itself out at its next poll; the other user at their next click. Both are told
    # that their organisation's access is off.
    expect(partner_user.get_by_role("heading", name="Access is switched off")).to_be_visible()
    partner_admin.get_by_role("link", name="Users").click()
    expect(partner_admin.get_by_role("heading", name="Access is switched off")).to_be_visible()
    assert "/partner/" not in partner_admin.url
    assert_no_axe_violations(partner_admin, "the switched-off page")
    screenshot(partner_admin, screens / "partner-organisation-switched-off.png")
    partner_user.goto("/p/northside/login")  # signing in again is refused before the provider
    expect(partner_user.get_by_role("heading", name="Access is switched off")).to_be_visible()

    admin.get_by_role("button", name="Reactivate Northside").click()
    expect(admin.get_by_text("Northside is active again")).to_be_visible()
    _partner_signs_in(partner_user)
    assert_ran_clean(admin)
