"""The job queues page in Chromium: an admin opens a failed job and runs it again with the keyboard."""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP
from tests.ops.test_queue_dashboard import _fail_one_job, _status

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser


def test_an_admin_requeues_a_failed_job_from_the_job_queues_page(app, open_page, sign_in_as):
    job_id = _fail_one_job(app)
    page = sign_in_as(open_page(DESKTOP), "admin")
    page.goto("/admin/rq/default/failed")
    page.get_by_role("link", name=job_id).click()
    button = page.get_by_role("button", name="Run again")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Job {job_id} is queued again.")).to_be_visible()
    assert _status(app, job_id) == "queued"
