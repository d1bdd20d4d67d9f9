"""rq-dashboard's own Requeue button, pressed by an admin in Chromium, re-queues a failed job."""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP
from tests.ops.test_queue_dashboard import _status, failed_job

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: browser tests need Debian's chromium", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser


def test_an_admin_requeues_a_failed_job_from_the_dashboard(app, open_page, sign_in_as):
    job_id = failed_job(app)
    page = sign_in_as(open_page(DESKTOP), "admin")
    page.goto(f"/admin/rq/0/view/job/{job_id}")
    button = page.get_by_role("button", name="Requeue")
    expect(button).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith(f"/job/{job_id}/requeue")) as answer:
        button.click()
    assert answer.value.status == 200
    assert _status(app, job_id) == "queued"
