"""Captured cookies replayed against real server processes: gunicorn with 2 workers, sharing one Redis.

Each worker is its own process; the only thing they share about a session is its Redis record. A cookie
captured before a sign-out, before a password change, or used past the absolute lifetime must get the
sign-in page from every worker; so must a partner user's cookie captured before their sign-out or before
their partner admin deactivated them. Each replay opens a new connection, so the kernel spreads them over both.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, csrf_token_from, make_staff
from tests.partners.fixtures import ROLES, choose_demo_user, demo_users

ROOT = Path(__file__).resolve().parents[2]
MAX_HOURS = 0.003  # 10.8 s of absolute lifetime, so the test can outlive it
NEW_PASSWORD = "another long staff passphrase"
REPLAYS = 12
# real_clock: the two gunicorn workers keep the wall clock, and the users and sessions this process writes
# must be stamped on the same clock as the workers that read them.
pytestmark = pytest.mark.real_clock


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_workers(app):
    port = _free_port()
    env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"], LOG_LEVEL="WARNING",
               SESSION_MAX_HOURS=str(MAX_HOURS))
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the whole group: master and workers
        process.wait(timeout=30)


def _sign_in(url: str, email: str, password: str = PASSWORD) -> requests.Session:
    browser = requests.Session()
    token = csrf_token_from(browser.get(f"{url}/login", timeout=10).text)
    response = browser.post(f"{url}/login", data={"email": email, "password": password, "csrf_token": token},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[-500:]
    return browser


def _assert_sign_in_page_everywhere(url: str, cookie: str) -> None:
    for _ in range(REPLAYS):
        response = requests.get(f"{url}/queue", cookies={"session": cookie}, allow_redirects=False, timeout=10,
                                headers={"Connection": "close"})
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), response.status_code


def test_replayed_cookies_get_the_sign_in_page_on_every_worker(app, two_workers):
    url = two_workers
    make_staff(app, "secretary", "replay@test.example")

    # 1. After sign-out.
    browser = _sign_in(url, "replay@test.example")
    captured = browser.cookies["session"]
    assert browser.get(f"{url}/queue", allow_redirects=False, timeout=10).status_code == 200
    token = csrf_token_from(browser.get(f"{url}/queue", timeout=10).text)
    assert browser.post(f"{url}/logout", data={"csrf_token": token}, allow_redirects=False,
                        timeout=10).status_code == 302
    _assert_sign_in_page_everywhere(url, captured)

    # 2. After a password change made in another browser.
    other = _sign_in(url, "replay@test.example")
    captured = other.cookies["session"]
    changer = _sign_in(url, "replay@test.example")
    token = csrf_token_from(changer.get(f"{url}/account/password", timeout=10).text)
    response = changer.post(f"{url}/account/password", data={
        "csrf_token": token, "current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        allow_redirects=False, timeout=10)
    assert response.status_code == 302
    _assert_sign_in_page_everywhere(url, captured)
    assert changer.get(f"{url}/queue", allow_redirects=False, timeout=10).status_code == 200

    # 3. Past the absolute lifetime, although the session was used all along.
    browser = _sign_in(url, "replay@test.example", NEW_PASSWORD)
    signed_in_at = time.monotonic()
    captured = browser.cookies["session"]
    while time.monotonic() - signed_in_at < MAX_HOURS * 3600 - 2:
        assert requests.get(f"{url}/queue", cookies={"session": captured}, allow_redirects=False,
                            timeout=10).status_code == 200
        time.sleep(1)
    time.sleep(max(0.0, MAX_HOURS * 3600 + 0.5 - (time.monotonic() - signed_in_at)))
    _assert_sign_in_page_everywhere(url, captured)


PARTNER_SIGN_IN = "/p/northside/login?signed_out=1"


def _partner_sign_in(url: str, role: str) -> requests.Session:
    """Through the sandbox provider, as a person would: the portal, the provider, back to the portal."""
    browser = requests.Session()
    start = browser.get(f"{url}/p/northside/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302, start.text[-500:]
    callback = choose_demo_user(start.headers["Location"], demo_users("northside")[ROLES.index(role)]["sub"])
    assert callback.startswith(url)
    response = browser.get(callback, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[-500:]
    return browser


def _assert_partner_sign_in_page_everywhere(url: str, cookie: str) -> None:
    for _ in range(REPLAYS):
        response = requests.get(f"{url}/partner/care-requests", allow_redirects=False, timeout=10,
                                cookies={"session": cookie, "partner_tenant": "northside"},
                                headers={"Connection": "close"})
        assert response.status_code == 302 and response.headers["Location"] == PARTNER_SIGN_IN, response.status_code


def test_replayed_partner_cookies_get_their_sign_in_page_on_every_worker(app, two_workers, partners):
    url = two_workers

    # 1. After sign-out.
    browser = _partner_sign_in(url, "scheduler")
    captured = browser.cookies["session"]
    token = csrf_token_from(browser.get(f"{url}/partner/profile", timeout=10).text)
    assert browser.post(f"{url}/partner/logout", data={"csrf_token": token}, allow_redirects=False,
                        timeout=10).status_code == 302
    _assert_partner_sign_in_page_everywhere(url, captured)

    # 2. After their partner admin deactivated them, in another browser.
    browser = _partner_sign_in(url, "scheduler")
    captured = browser.cookies["session"]
    assert browser.get(f"{url}/partner/care-requests", allow_redirects=False, timeout=10).status_code == 200
    admin = _partner_sign_in(url, "partner_admin")
    token = csrf_token_from(admin.get(f"{url}/partner/users", timeout=10).text)
    user_id = partners["northside"]["users"]["scheduler"]
    assert admin.post(f"{url}/partner/users/{user_id}/deactivate", data={"csrf_token": token},
                      allow_redirects=False, timeout=10).status_code == 302
    _assert_partner_sign_in_page_everywhere(url, captured)
