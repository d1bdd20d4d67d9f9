"""Every htmx-driven control, used as a person uses it, checked by what the person then sees: typing
into a search narrows its list, live lists change without a reload, confirm dialogs really ask (and
"Cancel" really changes nothing), and a swapped-in fragment keeps keyboard focus where it was.

(The ICPC-2 picker is typed into by test_doctor_report.py; the referral panel's forms, the chat and
the consultation desk by test_screening.py, test_consultation_flow.py and test_consultation_desk.py;
the insurer report's progress by test_orders_and_reports.py.)
"""

from datetime import date
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP
from tests.conftest import DIARY_MONDAY, make_patient, slot_ids

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.browser.a11y import focus_problem  # noqa: E402
from tests.browser.conftest import another_referral, assert_not_reloaded, assert_ran_clean, mark_page  # noqa: E402

pytestmark = pytest.mark.browser


def focused_id(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.id : ''")


def test_typing_into_the_referral_search_narrows_the_queue_without_a_reload(open_page, sign_in_as, send_referral,
                                                                            seed_referral):
    send_referral(another_referral(seed_referral, "Line", "Danser"))
    send_referral(another_referral(seed_referral, "Ola", "Nordmann"))
    page = sign_in_as(open_page(DESKTOP), "secretary")
    page.goto("/queue")
    queue = page.locator("#queue-list")
    expect(queue.get_by_role("cell", name="Line Danser", exact=True)).to_be_visible()
    mark_page(page)
    page.get_by_label("Search by name or phone").press_sequentially("Nord", delay=40)
    expect(queue.get_by_role("cell", name="Line Danser", exact=True)).to_have_count(0)
    expect(queue.get_by_role("cell", name="Ola Nordmann", exact=True)).to_be_visible()
    expect(queue.get_by_role("status")).to_contain_text("1 referral waiting")
    assert "Nord" not in page.url  # POSTed: a name never goes into a URL
    page.get_by_label("Search by name or phone").fill("")
    page.get_by_label("Search by name or phone").press("Backspace")
    expect(queue.get_by_role("cell", name="Line Danser", exact=True)).to_be_visible()
    assert_not_reloaded(page)
    assert_ran_clean(page)


def _partner_page(open_page, tenant="northside", user="Sam Scheduler"):
    page = open_page(DESKTOP)
    page.goto(f"/p/{tenant}/login")
    page.get_by_label(user).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Care requests").wait_for()
    page.problems.clear()  # the sandbox provider's page has no favicon; not a portal page
    return page


def test_typing_into_the_partner_patient_search_narrows_the_results(app, open_page, partners):  # noqa: F811
    from portal.care_requests import services

    with app.app_context():
        services.create_partner_patient(partners["northside"]["id"], first_name="Bo", last_name="Bayes",
                                        birth_date=date(1970, 1, 2), phone="+447700900999")
    page = _partner_page(open_page)
    page.get_by_role("link", name="New care request").first.click()
    mark_page(page)
    page.get_by_label("Name, birth date").press_sequentially("Ba", delay=40)
    results = page.locator("#patient-results")
    expect(results.get_by_role("button", name="Schedule Bo Bayes")).to_be_visible()
    expect(results.get_by_role("button", name="Schedule Pat Northsideson")).to_have_count(0)
    page.get_by_label("Name, birth date").fill("")
    page.get_by_label("Name, birth date").press_sequentially("Pat", delay=40)
    expect(results.get_by_role("button", name="Schedule Pat Northsideson")).to_be_visible()
    expect(results.get_by_role("button", name="Schedule Bo Bayes")).to_have_count(0)
    assert_not_reloaded(page)
    assert_ran_clean(page)


def test_the_partner_list_changes_live_and_keyboard_focus_stays_on_its_link(app, open_page, partners):  # noqa: F811
    from portal.care_requests import services
    from portal.extensions import db
    from portal.partners.models import PartnerUser

    page = _partner_page(open_page, user="Alice Admin")
    first = partners["northside"]["care_request_id"]
    link = page.locator(f"#open-care-request-{first}")
    link.focus()
    mark_page(page)
    with app.app_context():
        user = db.session.get(PartnerUser, partners["northside"]["users"]["scheduler"])
        services.send_to_triage(user, partners["northside"]["patient_id"], service_id=None,
                                reason="Dizzy since this morning", answers={}, callback_phone="+447700900123",
                                why="test")
    expect(page.locator("#care-requests-live tbody tr")).to_have_count(2, timeout=8000)
    assert focused_id(page) == f"open-care-request-{first}", "the live update took the keyboard user's place"
    assert focus_problem(page) is None
    assert_not_reloaded(page)
    assert_ran_clean(page)


def test_diary_actions_swap_their_row_keep_focus_and_cancel_asks_first(app, open_page, sign_in_as, diary_set_up):
    from portal.scheduling.services import book_slot

    free, booked = slot_ids(app, diary_set_up["service_id"])[:2]
    with app.app_context():
        book_slot(booked, patient_id=make_patient(app), actor=("staff", "1"))
    page = sign_in_as(open_page(DESKTOP), "secretary")
    page.goto(f"/schedules/{diary_set_up['schedule_id']}?day={DIARY_MONDAY}")
    mark_page(page)

    # Block by keyboard: the row turns "blocked" and focus is on its new Unblock button.
    page.locator(f"#slot-{free}-action").focus()
    page.keyboard.press("Enter")
    row = page.locator(f"#slot-{free}")
    expect(row.get_by_text("blocked", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Unblock")).to_be_focused()
    assert focus_problem(page) is None
    page.keyboard.press("Enter")
    expect(row.get_by_text("free", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Block", exact=False).filter(has_not_text="Unblock")).to_be_focused()

    # Cancel asks first; answering "Cancel" to the question changes nothing.
    cancel = page.locator(f"#slot-{booked}-action")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    cancel.click()
    expect(page.locator(f"#slot-{booked}").get_by_text("booked", exact=True)).to_be_visible()
    assert asked == ["Cancel this appointment?"]
    page.once("dialog", lambda dialog: dialog.accept())
    cancel.click()
    expect(page.locator(f"#slot-{booked}").get_by_text("free", exact=True)).to_be_visible()
    assert_not_reloaded(page)
    assert_ran_clean(page)


def test_a_control_swapped_in_works_at_once(app, open_page, sign_in_as, diary_set_up):
    """The row's new Unblock button is pressed in the very moment it appears (a microtask after htmx
    inserts it, before any timer could run): it must already post by htmx, not as a plain form that
    reloads the page (htmx's default 20 ms settle delay left that gap; CI hit it under load)."""
    free = slot_ids(app, diary_set_up["service_id"])[0]
    page = sign_in_as(open_page(DESKTOP), "secretary")
    page.goto(f"/schedules/{diary_set_up['schedule_id']}?day={DIARY_MONDAY}")
    mark_page(page)
    page.evaluate("""id => new MutationObserver((changes, observer) => {
        const button = document.getElementById(id);
        if (button && button.textContent.includes("Unblock")) { observer.disconnect(); button.click(); }
    }).observe(document.body, {childList: true, subtree: true})""", f"slot-{free}-action")
    page.locator(f"#slot-{free}-action").click()
    # The row's own news, which only the htmx answer carries (a plain post reloads the whole diary).
    expect(page.locator(f"#slot-{free}").get_by_role("status")).to_have_text("Slot free again.")
    expect(page.locator(f"#slot-{free}").get_by_text("free", exact=True)).to_be_visible()
    assert_not_reloaded(page)
    assert_ran_clean(page)


def test_declining_a_referral_asks_first(open_page, sign_in_as, send_referral, seed_referral):
    send_referral(another_referral(seed_referral, "Line", "Danser"))
    page = sign_in_as(open_page(DESKTOP), "secretary")
    page.goto("/queue")
    page.get_by_role("link", name="Screen Line Danser").click()
    panel = page.locator("#referral-panel")
    panel.get_by_label("Reason", exact=True).select_option(index=1)
    decline = panel.get_by_role("button", name="Decline referral")
    page.once("dialog", lambda dialog: dialog.dismiss())
    decline.click()
    expect(panel.get_by_text("awaiting screening")).to_be_visible()
    expect(panel.get_by_text("Referral declined.")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    decline.click()
    expect(panel.get_by_text("Referral declined.")).to_be_visible()
    assert_ran_clean(page)


def test_re_submitting_a_failed_travel_claim_updates_its_row_and_focus_goes_to_the_news(app, open_page, sign_in_as,
                                                                                       diary_set_up):
    from portal.extensions import db
    from portal.scheduling.services import book_slot
    from portal.travel_pay import services
    from portal.travel_pay.agreement import current_agreement
    from portal.travel_pay.models import TravelClaim

    slot = slot_ids(app, diary_set_up["service_id"])[0]
    with app.app_context():
        appointment = book_slot(slot, patient_id=make_patient(app), actor=("staff", "1"))
        claim = services.create_claim(patient_id=appointment.patient_id, appointment=appointment,
                                      appointment_date=appointment.start.date(), answers={"mileage_only": True},
                                      agreement=current_agreement("en"))
        db.session.commit()
        # As the claim job leaves it after its last attempt failed.
        db.session.get(TravelClaim, claim.id).status = "failed"
        db.session.commit()
        claim_id = claim.id
    page = sign_in_as(open_page(DESKTOP), "secretary")
    page.goto("/travel-claims")
    mark_page(page)
    row = page.locator(f"#claim-{claim_id}")
    row.get_by_role("button", name="Re-submit").focus()
    page.keyboard.press("Enter")
    news = row.get_by_role("status")
    expect(news).to_have_text("The claim will be filed again now.")
    expect(row.get_by_role("button", name="Re-submit")).to_have_count(0)
    expect(news).to_be_focused()
    assert focus_problem(page) is None
    assert_not_reloaded(page)
    assert_ran_clean(page)
