"""Browser fixtures: Debian's Chromium driven by Playwright against the `live_server`.

One Chromium per module (starting it costs ~0.5 s); a fresh context, hence fresh cookies, per
test. The CSP is left on, so any inline script or style the templates grow shows up here.
"""

import os
import random
import uuid
from pathlib import Path

import pytest
import requests

from portal.sandbox.referral_system import random_fodselsnummer
from tests.conftest import PASSWORD, make_staff, pass_code_step

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/screens"))
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"  # > 0: the page scrolls sideways


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, live_server):
    """`open_page(viewport)` gives a page in a fresh context; CSP reports and page errors are collected
    in `page.problems` so a test can assert the page ran clean."""
    contexts = []

    def make(viewport=DESKTOP):
        context = chromium.new_context(viewport=viewport, base_url=live_server)
        context.set_default_timeout(5000)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def sign_in_as(app):
    """`sign_in_as(page, "secretary")` makes the staff user and signs in through the login form."""

    def sign_in(page, role="secretary", email=None):
        email = email or f"{role}@test.example"
        make_staff(app, role, email)
        page.goto("/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        pass_code_step(page, app, email)
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    return sign_in


@pytest.fixture
def send_referral(app, live_server):
    """POST a referral to the live webhook over HTTP, signed like the referral system signs it."""
    from portal.sandbox.referral_system import signed_request

    def send(payload):
        body, headers = signed_request(app.config["REFERRAL_WEBHOOK_SECRET"], payload)
        response = requests.post(f"{live_server}/api/referrals", data=body, headers=headers, timeout=5)
        assert response.status_code == 201, response.text
        return response.json()["referral_id"]

    return send


@pytest.fixture(scope="session")
def screens():
    SCREENS.mkdir(parents=True, exist_ok=True)
    return SCREENS


# --- what browser tests check on a page ---------------------------------------------------------

def assert_no_axe_violations(page, where: str):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"{where}:\n{results.generate_report()}"


def assert_ran_clean(page):
    assert page.problems == [], "\n".join(page.problems)


def mark_page(page):
    """Leave a mark on the window; it survives htmx swaps and disappears on a reload."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page):
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"


def focused_text(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.textContent.trim() : ''")


def tab_to(page, text: str, limit: int = 40):
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused_text(page) == text:
            return
    pytest.fail(f"Tab never reached {text!r}")


def wait_for_htmx_to_settle(page):
    """htmx wires up swapped-in content when it settles, ~20 ms after the swap; before that a link
    is a plain link (Enter would load the full detail page, which works, but is not this test)."""
    page.wait_for_function("() => !document.querySelector('.htmx-swapping, .htmx-settling')")


def screenshot(page, path, **options):
    # Two animation frames: the scroll and focus htmx and portal.js just did are painted.
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.screenshot(path=str(path), caret="initial", **options)  # caret="hide" would inject a style the CSP blocks


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical accessibility findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} {[n['html'] for n in v['nodes']]}" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def another_referral(seed_referral, first, last):
    return dict(seed_referral, JournalGuid=str(uuid.uuid4()), PID=random_fodselsnummer(random.Random(first)),
                Firstname=first, Lastname=last, PhoneNumber="+4791234567")
