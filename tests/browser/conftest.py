"""Browser fixtures: Debian's Chromium driven by Playwright against the `live_server`.

One Chromium per module (starting it costs ~0.5 s); a fresh context, hence fresh cookies, per
test. The CSP is left on, so any inline script or style the templates grow shows up here.
"""

import os
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, make_staff, pass_code_step

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/screens"))


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
