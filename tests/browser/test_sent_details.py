"""A second referral for a known patient, in Chromium, as the secretary works it: the queue flags the
two, the panel shows what was sent beside the record, she updates one detail and keeps another, then
closes the second referral as a duplicate of the first and finds it still readable."""

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from portal.extensions import db  # noqa: E402
from portal.patients.models import Patient  # noqa: E402
from tests.browser.test_screening import (  # noqa: E402
    OVERFLOW,
    assert_no_axe_violations,
    assert_not_reloaded,
    assert_ran_clean,
    mark_page,
    open_queue,
    screenshot,
)
from tests.referrals.test_sent_details_and_duplicates import FIRST, SECOND  # noqa: E402

pytestmark = pytest.mark.browser


def record(app):
    with app.app_context():
        patient = db.session.scalar(select(Patient))
        db.session.remove()
        return patient


def test_secretary_compares_what_was_sent_chooses_per_detail_and_closes_a_duplicate(
        open_page, sign_in_as, send_referral, app, screens):
    first, second = send_referral(FIRST), send_referral(SECOND)
    page = open_queue(open_page(DESKTOP), sign_in_as)
    mark_page(page)
    first_row, second_row = page.locator(f"#referral-row-{first}"), page.locator(f"#referral-row-{second}")
    expect(first_row).to_contain_text("2 open for this patient")
    expect(second_row).to_contain_text("2 open for this patient")
    # The badge is judged on the number shown, the record's valid one, on both rows.
    expect(page.locator(".queue").get_by_text("check number")).to_have_count(0)

    # From the first row's flag she jumps to the other referral.
    first_row.get_by_role("link", name=f"referral {second}").click()
    panel = page.locator("#referral-panel")
    expect(panel.get_by_role("heading", name="Line Danser", level=2)).to_be_focused()
    sent_phone, sent_name = panel.locator(f"#sent-phone-{second}"), panel.locator(f"#sent-name-{second}")
    expect(sent_phone).to_contain_text("On the record +4791234567")
    expect(sent_phone).to_contain_text("As sent +4712345678 check number")
    expect(sent_name).to_contain_text("As sent Line Marie Danser-Berg")
    expect(panel.locator(f"#sent-email-{second}")).to_contain_text("As sent line.berg@example.org")
    assert_no_axe_violations(page, "referral panel with sent details")
    screenshot(page, screens / "referral-sent-details-desktop.png")

    panel.get_by_role("button", name="Update the record with the sent phone").click()
    expect(panel.get_by_role("status")).to_have_text("The patient record now has the phone this referral sent.")
    expect(sent_phone).to_contain_text("Record updated from this referral.")
    facts = panel.locator("dl.facts").first
    expect(facts).to_contain_text("+4712345678")
    expect(facts.get_by_text("check number: it is not a valid number")).to_be_visible()

    panel.get_by_role("button", name="Keep the record’s name").click()
    expect(panel.get_by_role("status")).to_have_text("The patient record keeps its name.")
    expect(sent_name).to_contain_text("Record kept.")
    expect(panel.get_by_role("heading", name="Line Danser", level=2)).to_be_visible()
    assert (record(app).phone, record(app).first_name) == ("+4712345678", "Line")

    # The queue now shows the record's doubtful number, with its badge, on both rows.
    expect(second_row.get_by_text("check number")).to_be_visible(timeout=10000)

    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_label("Duplicate of").select_option(str(first))
    panel.get_by_role("button", name="Mark as duplicate").click()
    expect(panel.get_by_role("status")).to_have_text(
        f"Marked as a duplicate of referral {first}; it has left the queue.")
    expect(second_row).to_have_count(0, timeout=10000)
    expect(first_row).not_to_contain_text("open for this patient")
    expect(page.get_by_text("1 referral waiting.")).to_be_visible()
    assert_not_reloaded(page)

    # Not lost: the duplicate still shows what it sent, and leads to the one it repeats.
    expect(panel).to_contain_text("line.berg@example.org")
    panel.get_by_role("link", name=f"referral {first}", exact=True).click()
    page.wait_for_url(f"**/referrals/{first}")
    expect(page.locator("#referral-panel")).to_contain_text(f"Referral {second}")
    expect(page.locator("#referral-panel")).to_contain_text("duplicate")
    assert_ran_clean(page)


def test_on_a_phone_the_comparison_fits_and_works_by_keyboard(open_page, sign_in_as, send_referral, app, screens):
    send_referral(FIRST)
    second = send_referral(SECOND)
    page = open_page(PHONE)
    sign_in_as(page, "secretary")
    page.goto(f"/referrals/{second}")
    assert page.evaluate(OVERFLOW) <= 0
    button = page.get_by_role("button", name="Update the record with the sent e-mail")
    for _ in range(40):
        page.keyboard.press("Tab")
        if button.evaluate("b => b === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the e-mail's update button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("The patient record now has the e-mail this referral sent.")
    assert page.evaluate(OVERFLOW) <= 0
    screenshot(page, screens / "referral-sent-details-phone.png", full_page=True)
    assert record(app).email == "line.berg@example.org"
    assert_ran_clean(page)
