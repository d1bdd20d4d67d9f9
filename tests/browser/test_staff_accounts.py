"""Staff accounts in Chromium: an invitation to a first sign-in with two-factor, a forgotten password,
a recovery code that works once, and a deactivation that signs an open browser out. Every new page is
checked with axe, at 375 px without sideways scrolling, and driven by keyboard where it matters."""

import re
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from tests.browser.conftest import CHROMIUM, DESKTOP
from tests.conftest import PASSWORD, TOTP_SECRET, make_staff, pass_code_step
from tests.staff.helpers import emails, link_in

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import OVERFLOW, assert_no_axe_violations, assert_ran_clean, screenshot  # noqa: E402

pytestmark = pytest.mark.browser
NARROW = {"width": 375, "height": 740}
NEW_PASSWORD = "harbour lantern quietly"


def _check_page(page, where: str, screens=None, name=None):
    """axe-clean, and no sideways scrolling at the page's width; a screenshot when asked."""
    assert page.evaluate(OVERFLOW) <= 0, f"{where} scrolls sideways"
    assert_no_axe_violations(page, where)
    if screens is not None:
        screenshot(page, screens / f"staff-{name}.png", full_page=True)


def _password_step(page, email, password=PASSWORD):
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password", exact=True).press("Enter")  # the keyboard way


def test_invitation_set_password_set_up_two_factor_then_sign_in_with_a_code(app, open_page, sign_in_as, screens):
    admin = sign_in_as(open_page(DESKTOP), "admin")
    admin.get_by_role("link", name="Staff").click()
    _check_page(admin, "staff list", screens, "list")
    admin.get_by_label("Name", exact=True).fill("Dr. Ines Invited")
    admin.get_by_label("E-mail", exact=True).fill("ines@test.example")
    admin.get_by_label("Role").select_option("doctor")
    admin.get_by_role("button", name="Send invitation").click()
    expect(admin.get_by_text("Invitation sent to ines@test.example.")).to_be_visible()
    _check_page(admin, "staff member", screens, "user")

    invitee = open_page(NARROW)
    invitee.goto(link_in(emails(app, "staff_invite", "ines@test.example")[0]))
    expect(invitee.get_by_role("heading", name="Welcome to Care Portal")).to_be_visible()
    _check_page(invitee, "choose a password (375 px)", screens, "choose-password")
    invitee.get_by_label("New password", exact=True).fill("password12345")
    invitee.get_by_label("New password again").fill("password12345")
    invitee.get_by_role("button", name="Save password").click()
    expect(invitee.get_by_text("too common")).to_be_visible()
    invitee.problems.remove("Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)")
    invitee.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    invitee.get_by_label("New password again").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Save password").click()

    # A doctor must set two-factor up before anything else.
    expect(invitee.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(invitee.locator("figure.qr svg")).to_be_visible()
    _check_page(invitee, "two-factor set-up (375 px)", screens, "set-up")
    secret = invitee.locator("code.secret").inner_text().strip()
    invitee.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
    invitee.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(invitee.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert invitee.locator("ol.recovery-codes li").count() == 10
    _check_page(invitee, "recovery codes (375 px)", screens, "recovery-codes")
    invitee.get_by_role("link", name="I have kept them: continue").click()
    expect(invitee.get_by_role("heading", name="Consultations")).to_be_visible()

    # Next time: password, then a code from the app.
    invitee.get_by_role("button", name="Sign out").click()
    _password_step(invitee, "ines@test.example", NEW_PASSWORD)
    expect(invitee.get_by_role("heading", name="Enter your code")).to_be_visible()
    _check_page(invitee, "code step (375 px)", screens, "code")
    from portal.extensions import db
    from portal.security.models import StaffUser

    with app.app_context():  # the app's last accepted step is now: the next code is the one to wait for
        last_step = db.session.scalar(select(StaffUser.totp_last_step).where(StaffUser.email == "ines@test.example"))
    invitee.get_by_label("Code").fill(pyotp.TOTP(secret).at((last_step + 1) * 30))
    invitee.get_by_label("Code").press("Enter")
    expect(invitee.get_by_role("heading", name="Consultations")).to_be_visible()
    assert_ran_clean(invitee)
    assert_ran_clean(admin)


def test_forgot_password_reset_and_the_old_session_is_gone(app, open_page, screens):
    make_staff(app, "secretary", "sara@test.example")
    old = open_page(DESKTOP)
    _password_step(old, "sara@test.example")
    expect(old.get_by_role("heading", name=re.compile("Referral"))).to_be_visible()

    page = open_page(NARROW)
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    _check_page(page, "forgot password (375 px)", screens, "forgot")
    page.get_by_label("E-mail").fill("sara@test.example")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    _check_page(page, "link sent (375 px)")
    page.goto(link_in(emails(app, "staff_reset", "sara@test.example")[0]))
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_text("every session of your account has ended")).to_be_visible()

    # The old session's cookie, in a new tab of its browser: the old tab's own live poll may be taking it to
    # the sign-in page at this very moment, and a goto there would be interrupted by that navigation.
    old_tab = old.context.new_page()
    old_tab.goto("/queue")
    expect(old_tab.get_by_role("heading", name="Sign in")).to_be_visible()
    _password_step(page, "sara@test.example", NEW_PASSWORD)
    expect(page.get_by_role("heading", name=re.compile("Referral"))).to_be_visible()
    assert emails(app, "staff_password_changed", "sara@test.example")


def test_a_recovery_code_signs_in_once_only(app, open_page):
    from portal.extensions import db
    from portal.security import two_factor
    from portal.security.models import StaffUser

    make_staff(app, "reporting", "rita@test.example")
    with app.app_context():
        codes = two_factor.new_recovery_codes(db.session.scalar(select(StaffUser)))
        db.session.commit()
    page = open_page(DESKTOP)
    _password_step(page, "rita@test.example")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("You signed in with a recovery code; 9 left.")).to_be_visible()

    again = open_page(DESKTOP)
    _password_step(again, "rita@test.example")
    again.get_by_label("Code").fill(codes[0])
    again.get_by_role("button", name="Continue").click()
    expect(again.get_by_text("used already")).to_be_visible()
    expect(again.get_by_role("heading", name="Enter your code")).to_be_visible()


def test_an_admin_deactivates_a_user_whose_open_browser_is_signed_out_on_its_next_request(app, open_page, sign_in_as):
    doctor = open_page(DESKTOP)
    make_staff(app, "doctor", "doc@test.example")
    _password_step(doctor, "doc@test.example")
    pass_code_step(doctor, app, "doc@test.example")
    expect(doctor.get_by_role("heading", name="Consultations")).to_be_visible()
    doctor.goto("/account/sessions")  # a page that does not poll: its next request is the person's own click
    expect(doctor.get_by_role("heading", name="Your active sessions")).to_be_visible()

    admin = sign_in_as(open_page(DESKTOP), "admin")
    admin.goto("/admin/staff")
    admin.get_by_label("Search by name or e-mail").fill("doc@")
    admin.get_by_role("link", name="Test Doctor").click()
    admin.get_by_role("button", name="Deactivate").click()
    expect(admin.get_by_text("is deactivated and signed out everywhere")).to_be_visible()

    doctor.get_by_role("link", name="Change your password").click()
    expect(doctor.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(doctor.get_by_text("Your session has ended")).to_be_visible()


def test_account_pages_pass_axe_on_a_phone(app, open_page, sign_in_as, screens):
    page = sign_in_as(open_page(NARROW), "doctor")
    for path, name in [("/account/sessions", "sessions"), ("/account/password", "password"),
                       ("/account/two-factor", "two-factor")]:
        page.goto(path)
        _check_page(page, f"{path} (375 px)", screens, name)
    assert TOTP_SECRET
    assert_ran_clean(page)
