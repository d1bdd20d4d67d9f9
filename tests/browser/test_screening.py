"""A secretary screens a referral in Chromium: it arrives live, she calls, she creates a consultation.

Debian's Chromium, driven by Playwright, against the real server (`live_server`) with the CSP on:
a console error (a CSP block, a 404, a script error) fails the test. Screenshots of the queue
with a referral open land in /tmp/screens/ for a person to look at.
"""

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser.conftest import (
    CHROMIUM,
    DESKTOP,
    OVERFLOW,
    PHONE,
    another_referral,
    assert_no_axe_violations,
    assert_not_reloaded,
    assert_ran_clean,
    focused_text,
    mark_page,
    screenshot,
    tab_to,
    wait_for_htmx_to_settle,
)

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from portal.consultations.models import Consultation  # noqa: E402
from portal.extensions import db  # noqa: E402

pytestmark = pytest.mark.browser

CREATED = re.compile(r"^Consultation ([A-Z0-9]{8}) created; it is in the doctors' queue\.$")


def open_queue(page, sign_in_as):
    sign_in_as(page, "secretary")
    page.goto("/queue")
    expect(page.get_by_role("heading", name="Referrals awaiting screening")).to_be_visible()
    return page


def test_secretary_screens_a_referral_that_arrives_while_she_watches(
        open_page, sign_in_as, send_referral, seed_referral, app, screens):
    page = open_queue(open_page(DESKTOP), sign_in_as)
    expect(page.get_by_text("0 referrals waiting.")).to_be_visible()
    mark_page(page)

    referral_id = send_referral(seed_referral)
    row = page.locator(f"#referral-row-{referral_id}")
    expect(row).to_contain_text("Line Danser", timeout=3000)
    expect(page.get_by_text("1 referral waiting.")).to_be_visible()
    assert_not_reloaded(page)

    row.get_by_role("link", name="Screen Line Danser").click()
    panel = page.locator("#referral-panel")
    expect(panel.get_by_role("heading", name="Line Danser", level=2)).to_be_focused()
    assert page.evaluate("scrollY") == 0, "the panel is beside the list; the page should keep still"
    screenshot(page, screens / "queue-panel-desktop.png")

    panel.get_by_role("button", name="Log call").click()  # forgot to say what happened: the browser asks
    expect(panel.get_by_role("radio", name="Reached")).to_be_focused()
    assert panel.get_by_role("radio", name="Reached").evaluate("radio => !radio.validity.valid")
    expect(panel.get_by_text("No calls logged yet.")).to_be_visible()

    panel.get_by_role("radio", name="No answer").check()
    panel.get_by_label("Note").fill("Rang twice, will try again after lunch.")
    panel.get_by_role("button", name="Log call").click()
    expect(panel.get_by_role("status")).to_have_text("Call logged: No answer.")
    expect(panel.get_by_role("status")).to_be_focused()
    screenshot(page, screens / "queue-call-logged-desktop.png")
    expect(panel.locator(".calls li")).to_have_count(1)
    expect(panel.locator(".calls")).to_contain_text("Rang twice, will try again after lunch.")
    expect(row.locator("td").nth(3)).to_have_text("1", timeout=3000)  # the live queue counts the call
    assert_not_reloaded(page)

    panel.get_by_role("button", name="Create consultation").click()
    notice = panel.get_by_role("status")
    expect(notice).to_have_text(CREATED)
    code = CREATED.match(notice.text_content()).group(1)
    expect(row).to_have_count(0, timeout=3000)  # gone from the queue, still without a reload
    assert_not_reloaded(page)
    assert page.url.endswith("/queue")

    with app.app_context():
        consultation = db.session.scalar(select(Consultation).where(Consultation.referral_id == referral_id))
        assert consultation is not None
        assert (consultation.code, consultation.state, consultation.source) == (code, "ready_for_pickup", "referral")
        db.session.remove()
    assert_ran_clean(page)


def test_login_and_queue_pages_pass_axe(open_page, sign_in_as, send_referral, seed_referral):
    page = open_page(DESKTOP)
    page.goto("/login")
    assert_no_axe_violations(page, "login page")

    send_referral(seed_referral)
    open_queue(page, sign_in_as)
    expect(page.get_by_text("1 referral waiting.")).to_be_visible()
    assert_no_axe_violations(page, "queue page")

    page.get_by_role("link", name="Screen Line Danser").click()
    expect(page.locator("#referral-panel h2")).to_be_focused()
    assert_no_axe_violations(page, "queue page with the referral panel open")
    assert_ran_clean(page)


def test_on_a_phone_the_queue_fits_and_screening_works_by_keyboard(
        open_page, sign_in_as, send_referral, seed_referral, screens):
    send_referral(seed_referral)
    page = open_queue(open_page(PHONE), sign_in_as)
    assert page.evaluate(OVERFLOW) <= 0
    table = page.locator(".table-wrap")
    assert table.evaluate("wrap => wrap.scrollWidth <= wrap.clientWidth"), "the queue table scrolls sideways"

    tab_to(page, "Screen Line Danser")
    send_referral(another_referral(seed_referral, "Ola", "Nordmann"))
    expect(page.get_by_text("2 referrals waiting.")).to_be_visible(timeout=3000)
    wait_for_htmx_to_settle(page)
    assert focused_text(page) == "Screen Line Danser", "the live refresh took her place in the list"

    page.keyboard.press("Enter")
    panel = page.locator("#referral-panel")
    expect(panel.get_by_role("heading", name="Line Danser", level=2)).to_be_focused()
    assert 0 <= panel.evaluate("p => p.getBoundingClientRect().top") <= 16, "the panel below the list is scrolled up"
    assert page.evaluate(OVERFLOW) <= 0
    screenshot(page, screens / "queue-panel-phone.png")
    screenshot(page, screens / "queue-panel-phone-full.png", full_page=True)

    # Tab into the outcomes, arrows choose one, type a note, Enter on the button.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "outcome":
            break
    else:
        pytest.fail("Tab never reached the call outcomes")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    expect(panel.get_by_role("radio", name="No answer")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Voicemail full")
    page.keyboard.press("Tab")
    assert focused_text(page) == "Log call"
    page.keyboard.press("Enter")
    expect(panel.get_by_role("status")).to_have_text("Call logged: No answer.")
    expect(panel.get_by_role("status")).to_be_focused()
    expect(panel.locator(".calls")).to_contain_text("Voicemail full")

    tab_to(page, "Create consultation")
    page.keyboard.press("Enter")
    expect(panel.get_by_role("status")).to_have_text(CREATED)
    expect(panel.get_by_role("status")).to_be_focused()
    assert page.evaluate(OVERFLOW) <= 0
    assert_ran_clean(page)
