"""Chaos for travel claims with real `flask worker` processes on the test database and Redis.

(a) A worker is killed with SIGKILL while the claims API is answering (the sandbox files first and
    answers slowly); another worker's start-up sweep finds the claim stuck in `submitting` and runs
    it again: the outcome was unknown, so it first asks the claims API for the filing made under the
    claim's Idempotency-Key, finds it, and never files twice.
(b) Redis is unreachable while the patient checks in: the claim is stored `not_queued` and the
    page says so; a worker started afterwards sweeps it into the queue and files it once.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from portal.extensions import db
from portal.travel_pay.models import TravelClaim
from tests.checkin.conftest import book_appointment, new_link, redis_unreachable
from tests.checkin.test_checkin_flow import ALL_YES, answer_all, press_check_in, sign_in
from tests.conftest import child_clock_env
from tests.travel_pay.conftest import checkin_patient, clinic, travel_sandbox  # noqa: F401
from tests.travel_pay.test_claim_job import checked_in_claim, settings

ROOT = Path(__file__).resolve().parents[2]


def start_worker(app, sandbox_url: str, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"], SANDBOX_URL=sandbox_url, LOG_LEVEL="WARNING",
               TRAVEL_CLAIM_STUCK_SECONDS="2", SMTP_PORT=str(app.config["SMTP_PORT"]), **child_clock_env())
    # The worker keeps this test's clock: the claims it files were made "due" on that clock.
    return subprocess.Popen([sys.executable, "-m", "tests.run_on_test_clock", "flask", "--app", "wsgi", "worker",
                             "--queues", "claims,notifications", *extra],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)


def kill_hard(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its work horse (RQ puts the horse in its own process group)."""
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    except OSError:
        children = []
    for pid in [process.pid, *map(int, children)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


def wait_for(condition, seconds: float = 30, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def claim_status(app, claim_id: int) -> TravelClaim:
    with app.app_context():
        claim = db.session.get(TravelClaim, claim_id)
        db.session.expunge(claim)
        db.session.remove()
        return claim


def test_a_worker_killed_mid_submission_never_files_the_claim_twice(app, clinic, checkin_patient,  # noqa: F811
                                                                    travel_sandbox):  # noqa: F811
    travel_sandbox.set_mode(mode="slow", slow_seconds=20)
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    worker = start_worker(app, travel_sandbox.url)
    try:
        wait_for(lambda: travel_sandbox.counters()["filings"] == 1, 60, "the claims API to receive the claim")
        assert claim_status(app, claim_id).status == "submitting"
    finally:
        kill_hard(worker)
    travel_sandbox.set_mode(mode="succeed")
    time.sleep(2.5)  # past TRAVEL_CLAIM_STUCK_SECONDS
    second = start_worker(app, travel_sandbox.url, "--burst")
    assert second.wait(timeout=120) == 0
    filed = claim_status(app, claim_id)
    assert filed.status == "filed" and filed.claim_number == "TC-0000001" and filed.attempts == 2
    assert not filed.outcome_unknown
    counters = travel_sandbox.counters()
    # The cut-off attempt's outcome was unknown: the re-run asked first (a lookup by the Idempotency-Key)
    # and found the filing, so it sent nothing again.
    assert (counters["filings"], counters["lookups"], counters["replays"], counters["duplicates"]) == (1, 1, 0, 0)
    assert [m for m in travel_sandbox.sms if "TC-0000001" in m["text"]]


def test_redis_down_during_check_in_still_files_the_claim_exactly_once(app, client, clinic,  # noqa: F811
                                                                       checkin_patient,  # noqa: F811
                                                                       travel_sandbox):  # noqa: F811
    appointment_id = book_appointment(app, clinic, checkin_patient)
    assert sign_in(client, new_link(app, checkin_patient)).status_code == 302
    answer_all(client, appointment_id, ALL_YES)
    with redis_unreachable(app):
        with settings(app, TRAVEL_CLAIM_DELAY_SECONDS=0):
            response = press_check_in(client, appointment_id)
        done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "stored but not yet queued" in done
    with app.app_context():
        claim_id = db.session.scalar(select(TravelClaim.id))
        db.session.remove()
    assert claim_status(app, claim_id).status == "not_queued"

    workers = [start_worker(app, travel_sandbox.url, "--burst") for _ in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    filed = claim_status(app, claim_id)
    assert filed.status == "filed" and filed.attempts == 1
    counters = travel_sandbox.counters()
    assert (counters["filings"], counters["duplicates"]) == (1, 0)
