"""After filing: the claim is followed to its decision, "claim already exists" has its own message, a
timeout is followed by a status check, and the breaker pauses filing while the claims API keeps failing."""

import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db, redis_client
from portal.notifications.models import Notification
from portal.security.models import AuditEvent, utcnow
from portal.travel_pay import breaker
from portal.travel_pay.following import follow_claims
from portal.travel_pay.models import TravelClaim
from tests.checkin.conftest import make_checkin_patient, run_claim_jobs
from tests.conftest import run_notification_jobs
from tests.travel_pay.test_claim_job import checked_in_claim, claim, settings, sms_texts


def filed_claim(app, clinic, patient_id, sandbox, minutes_from_now=20) -> int:
    claim_id = checked_in_claim(app, clinic, patient_id, minutes_from_now)
    run_claim_jobs(app)
    assert claim(app, claim_id).status == "filed"
    return claim_id


def make_due(app, claim_id: int) -> None:
    """The claim's next status check is now (instead of TRAVEL_CLAIM_STATUS_EVERY_SECONDS after filing)."""
    with app.app_context():
        db.session.execute(update(TravelClaim).where(TravelClaim.id == claim_id)
                           .values(next_status_check_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def follow(app) -> dict:
    with app.app_context():
        counts = follow_claims()
        db.session.remove()
        return counts


def decision_messages(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Notification.body).where(Notification.kind == "travel_claim.decided")))


@pytest.mark.parametrize("decision, words", [("ApprovedForPayment", "approved for payment"), ("Denied", "denied"),
                                             ("OnHold", "on hold")])
def test_a_filed_claim_is_followed_until_decided_and_the_patient_is_texted_the_last_four_digits(
        app, clinic, checkin_patient, travel_sandbox, decision, words):
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=3600, decision=decision)
    claim_id = filed_claim(app, clinic, checkin_patient, travel_sandbox)
    assert follow(app)["checked"] == 0  # not due: asked TRAVEL_CLAIM_STATUS_EVERY_SECONDS after filing

    make_due(app, claim_id)
    assert follow(app) == {"checked": 1, "decided": 0, "stopped": 0, "failed": 0, "paused": False}
    pending = claim(app, claim_id)
    assert pending.status == "filed" and pending.claim_status == "ClaimSubmitted"
    assert pending.status_checked_at is not None and pending.next_status_check_at > utcnow()

    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=0, decision=decision)
    make_due(app, claim_id)
    assert follow(app)["decided"] == 1
    decided = claim(app, claim_id)
    assert decided.status == "decided" and decided.claim_status == decision and decided.decided_at is not None
    assert decided.next_status_check_at is None
    make_due(app, claim_id)
    assert follow(app)["checked"] == 0  # decided: no longer asked, never texted twice
    [text] = decision_messages(app)
    assert "ending 0001" in text and words in text and "/travel/portal" in text and "TC-0000001" not in text
    run_notification_jobs(app)
    assert any("ending 0001" in t for t in sms_texts(travel_sandbox))
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "travel_claim.decided"))
    assert travel_sandbox.counters()["status_checks"] == 2


def test_a_norwegian_patient_is_texted_the_decision_in_bokmal(app, clinic, travel_sandbox):
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=0, decision="ApprovedForPayment")
    claim_id = filed_claim(app, clinic, make_checkin_patient(app, language="nb"), travel_sandbox)
    make_due(app, claim_id)
    assert follow(app)["decided"] == 1
    [text] = decision_messages(app)
    assert text.startswith("Reisekravet ditt som slutter på 0001, for timen din ") and \
        "er avgjort: godkjent for utbetaling." in text


def test_after_follow_hours_a_claim_is_no_longer_followed_and_staff_see_its_last_status(
        app, clinic, checkin_patient, travel_sandbox, staff_client):
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=3600)
    with settings(app, TRAVEL_CLAIM_FOLLOW_HOURS=0):
        claim_id = filed_claim(app, clinic, checkin_patient, travel_sandbox)
    make_due(app, claim_id)
    assert follow(app)["stopped"] == 1
    stopped = claim(app, claim_id)
    assert stopped.status == "filed" and stopped.next_status_check_at is None and stopped.claim_status
    page = staff_client("secretary").get("/travel-claims").get_data(as_text=True)
    assert "claim submitted" in page and "no longer followed" in page
    assert decision_messages(app) == []


def test_staff_see_the_claims_system_status_and_the_decision(app, clinic, checkin_patient, travel_sandbox,
                                                              staff_client):
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=0, decision="Denied")
    claim_id = filed_claim(app, clinic, checkin_patient, travel_sandbox)
    secretary = staff_client("secretary")
    assert "next asked" in secretary.get("/travel-claims").get_data(as_text=True)
    make_due(app, claim_id)
    follow(app)
    page = secretary.get("/travel-claims?status=decided").get_data(as_text=True)
    assert "TC-0000001" in page and "denied" in page and "decided" in page


def test_a_failed_status_check_is_asked_again_later_and_counts_for_the_breaker(app, clinic, checkin_patient,
                                                                               travel_sandbox):
    claim_id = filed_claim(app, clinic, checkin_patient, travel_sandbox)
    travel_sandbox.set_mode(mode="fail", failures=1, step="status")
    make_due(app, claim_id)
    assert follow(app)["failed"] == 1
    waiting = claim(app, claim_id)
    assert waiting.status == "filed" and waiting.next_status_check_at > utcnow()
    with app.app_context():
        assert redis_client().get(breaker.FAILURES_KEY) == b"1"


def test_claim_already_exists_gets_its_own_message_not_the_generic_failure(app, clinic, checkin_patient,
                                                                          travel_sandbox):
    travel_sandbox.set_mode(mode="exists")
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    exists = claim(app, claim_id)
    assert exists.status == "exists" and exists.attempts == 1 and exists.claim_number is None
    assert "already exists" in exists.last_error
    with app.app_context():
        assert redis_client().zcard("rq:scheduled:claims") == 0  # not retried
        [message] = db.session.scalars(select(Notification)).all()
        assert message.kind == "travel_claim.exists"
    run_notification_jobs(app)
    [text] = sms_texts(travel_sandbox)
    assert "already has a travel claim" in text and "check its status" in text and "could not file" not in text


def test_a_timeout_is_followed_by_a_status_check_and_nothing_is_filed_again(app, clinic, checkin_patient,
                                                                             travel_sandbox):
    travel_sandbox.set_mode(mode="slow", slow_seconds=2, step="file")  # files, then answers too late
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    with settings(app, EXTERNAL_TIMEOUT_SECONDS=0.5):
        run_claim_jobs(app)
        timed_out = claim(app, claim_id)
        assert timed_out.status == "queued" and timed_out.outcome_unknown and "timed out" in timed_out.last_error
        travel_sandbox.set_mode(mode="succeed")
        with settings(app, TRAVEL_CLAIM_RETRY_HOURS=0):
            make_retry_due(app, claim_id)
            run_claim_jobs(app, with_scheduler=True)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.claim_number == "TC-0000001" and filed.attempts == 2
    assert not filed.outcome_unknown
    counters = travel_sandbox.counters()
    assert counters["filings"] == 1 and counters["lookups"] == 1 and counters["replays"] == 0
    assert counters["duplicates"] == 0 and counters["steps"].count("file") == 1  # one POST only


def test_after_a_timeout_that_filed_nothing_the_status_check_is_followed_by_the_same_key(app, clinic,
                                                                                         checkin_patient,
                                                                                         travel_sandbox):
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    with app.app_context():
        db.session.execute(update(TravelClaim).where(TravelClaim.id == claim_id).values(outcome_unknown=True))
        db.session.commit()
    run_claim_jobs(app)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.attempts == 1
    counters = travel_sandbox.counters()
    assert counters["lookups"] == 1 and counters["filings"] == 1


def make_retry_due(app, claim_id: int) -> None:
    """The waiting retry's time is now (its job was scheduled TRAVEL_CLAIM_RETRY_HOURS ahead)."""
    with app.app_context():
        scheduled = redis_client().zrange("rq:scheduled:claims", 0, -1)
        for job in scheduled:
            redis_client().zadd("rq:scheduled:claims", {job: time.time() - 1})
        db.session.execute(update(TravelClaim).where(TravelClaim.id == claim_id)
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_the_breaker_pauses_filing_tells_staff_and_filing_resumes_by_itself(app, clinic, checkin_patient,
                                                                              travel_sandbox, staff_client):
    travel_sandbox.set_mode(mode="fail", failures=100)
    with settings(app, TRAVEL_CLAIM_BREAKER_FAILURES=2, TRAVEL_CLAIM_BREAKER_PAUSE_SECONDS=5,
                  TRAVEL_CLAIM_RETRY_HOURS=0):
        first = checked_in_claim(app, clinic, checkin_patient)
        second = checked_in_claim(app, clinic, make_checkin_patient(app, fnr="01018012371", last_name="Nordmann"), 25)
        third = checked_in_claim(app, clinic, make_checkin_patient(app, fnr="15076500565", last_name="Hansen"), 30)
        run_claim_jobs(app)
        assert travel_sandbox.counters()["failures_served"] == 2  # then the breaker opened: nobody called out
        with app.app_context():
            paused_until = breaker.open_until()
        assert paused_until is not None
        waiting = [claim(app, claim_id) for claim_id in (first, second, third)]
        assert all(c.status == "queued" for c in waiting)
        assert sorted(c.attempts for c in waiting) == [0, 1, 1]  # a pause uses no attempt
        assert all(c.pauses == 1 and abs((c.next_attempt_at - paused_until).total_seconds()) < 1 for c in waiting)
        page = staff_client("secretary").get("/travel-claims").get_data(as_text=True)
        assert "Filing is paused" in page and "resumes by itself" in page

        travel_sandbox.set_mode(mode="succeed")
        with app.app_context():
            deadline = time.monotonic() + 15
            while breaker.open_until() is not None and time.monotonic() < deadline:
                time.sleep(0.1)  # the pause is 5 s: its Redis key expires, nothing has to close it
        run_claim_jobs(app, with_scheduler=True)  # the paused jobs' time has come
    filed = [claim(app, claim_id) for claim_id in (first, second, third)]
    assert [c.status for c in filed] == ["filed"] * 3
    assert sorted(c.attempts for c in filed) == [1, 2, 2]
    assert travel_sandbox.counters()["filings"] == 3 and travel_sandbox.counters()["duplicates"] == 0
    assert "Filing is paused" not in staff_client("admin").get("/travel-claims").get_data(as_text=True)


def test_a_success_resets_the_failures_in_a_row(app, clinic, checkin_patient, travel_sandbox):
    travel_sandbox.set_mode(mode="fail", failures=1)
    with settings(app, TRAVEL_CLAIM_BREAKER_FAILURES=2, TRAVEL_CLAIM_RETRY_HOURS=0):
        claim_id = checked_in_claim(app, clinic, checkin_patient)
        run_claim_jobs(app)
        assert claim(app, claim_id).status == "filed"
        with app.app_context():
            assert redis_client().get(breaker.FAILURES_KEY) is None and breaker.open_until() is None


def test_the_follower_does_not_call_out_while_the_breaker_is_open(app, clinic, checkin_patient, travel_sandbox):
    claim_id = filed_claim(app, clinic, checkin_patient, travel_sandbox)
    make_due(app, claim_id)
    with app.app_context():
        redis_client().set(breaker.OPEN_KEY, f"{time.time() + 60:.3f}", ex=60)
    before = travel_sandbox.counters()["requests"]
    assert follow(app)["paused"] is True
    assert travel_sandbox.counters()["requests"] == before


def test_with_the_token_service_down_the_follower_stops_and_the_claims_stay_due(app, clinic, checkin_patient,
                                                                                travel_sandbox):
    from portal.travel_pay.services import TOKEN_KEY

    claim_id = filed_claim(app, clinic, checkin_patient, travel_sandbox)
    make_due(app, claim_id)
    with app.app_context():
        redis_client().delete(TOKEN_KEY)
    with settings(app, TOKEN_SERVICE_URL="http://127.0.0.1:1/token"):
        assert follow(app)["failed"] == 1
    still_due = claim(app, claim_id)
    assert still_due.status == "filed" and still_due.next_status_check_at <= utcnow()


def test_the_follow_command_asks_due_claims_and_says_when_filing_is_paused(app, clinic, checkin_patient,
                                                                           travel_sandbox):
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=0, decision="ApprovedForPayment")
    claim_id = filed_claim(app, clinic, checkin_patient, travel_sandbox)
    make_due(app, claim_id)
    said = app.test_cli_runner().invoke(args=["follow-travel-claims"])
    assert said.exit_code == 0, said.output
    assert "1 checked, 1 decided, 0 no longer followed, 0 failed" in said.output
    assert claim(app, claim_id).status == "decided"

    with app.app_context():
        redis_client().set(breaker.OPEN_KEY, f"{time.time() + 60:.3f}", ex=60)
    said = app.test_cli_runner().invoke(args=["follow-travel-claims"])
    assert said.exit_code == 0 and "paused: the claims API breaker is open" in said.output


def test_the_follower_runs_before_a_backlog_of_filings(app, clinic, checkin_patient, travel_sandbox):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry
    from rq.scheduler import RQScheduler

    from portal.extensions import worker_redis
    from portal.travel_pay.jobs import schedule_follower

    backlog = [checked_in_claim(app, clinic, make_checkin_patient(app, fnr=fnr, last_name=name), minutes)
               for fnr, name, minutes in (("01018012371", "Nordmann", 20), ("15076500565", "Hansen", 25))]
    with settings(app, TRAVEL_CLAIM_STATUS_SWEEP_SECONDS=1), app.app_context():
        connection = worker_redis()
        queue = Queue("claims", connection=connection)
        assert len(queue.job_ids) == len(backlog)  # the filings wait in the queue
        schedule_follower()
        registry = ScheduledJobRegistry(queue=queue)
        deadline = time.monotonic() + 5
        while not registry.get_jobs_to_schedule(time.time()) and time.monotonic() < deadline:
            time.sleep(0.05)  # its slot is at most a second away
        scheduler = RQScheduler([queue], connection=connection)
        scheduler.acquire_locks()
        try:
            scheduler.enqueue_scheduled_jobs()  # what a worker's scheduler does when the time comes
        finally:
            scheduler.release_locks()
        first, *rest = queue.job_ids
    assert first.startswith("travel-claims-follow-") and len(rest) == len(backlog)


def test_a_claim_the_claims_api_leaves_out_of_a_status_answer_is_asked_again_and_the_others_are_written(
        app, clinic, travel_sandbox):
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=0, decision="ApprovedForPayment")
    known = filed_claim(app, clinic, make_checkin_patient(app, fnr="01018012371", last_name="Nordmann"),
                        travel_sandbox)
    unknown = filed_claim(app, clinic, make_checkin_patient(app, fnr="15076500565", last_name="Hansen"),
                          travel_sandbox, minutes_from_now=25)
    with app.app_context():
        db.session.execute(update(TravelClaim).where(TravelClaim.id == unknown).values(claim_number="TC-9999999"))
        db.session.commit()
    make_due(app, known)
    make_due(app, unknown)
    assert follow(app) == {"checked": 1, "decided": 1, "stopped": 0, "failed": 1, "paused": False}
    assert travel_sandbox.counters()["status_requests"] == 1  # both in one request
    assert claim(app, known).status == "decided"
    left_out = claim(app, unknown)
    assert left_out.status == "filed" and left_out.next_status_check_at > utcnow()
    with app.app_context():
        assert redis_client().get(breaker.FAILURES_KEY) is None  # a success in the same run clears the count


def test_the_breaker_counts_failures_in_a_row_call_by_call_not_per_batch(app, clinic, travel_sandbox):
    """One batch makes several calls (here: a claim filed in steps, asked by its id, then the single-POST
    claims in one request). An answered call starts the count again at once: a failure before the batch
    and one after an answered call are not two in a row."""
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=3600)
    with settings(app, TRAVEL_CLAIMS_ADAPTER="steps"):
        in_steps = filed_claim(app, clinic, make_checkin_patient(app, fnr="01018012371", last_name="Nordmann"),
                               travel_sandbox)
    single = filed_claim(app, clinic, make_checkin_patient(app, fnr="15076500565", last_name="Hansen"),
                         travel_sandbox, minutes_from_now=25)
    with app.app_context():
        assert claim(app, in_steps).external_claim_id and not claim(app, single).external_claim_id
        db.session.execute(update(TravelClaim).where(TravelClaim.id == single).values(claim_number="TC-9999999"))
        db.session.commit()
        redis_client().set(breaker.FAILURES_KEY, 1)  # a failed call just before this run
    make_due(app, in_steps)
    make_due(app, single)
    with settings(app, TRAVEL_CLAIM_BREAKER_FAILURES=2):
        counts = follow(app)
    assert counts["checked"] == 1 and counts["failed"] == 1 and not counts["paused"]
    with app.app_context():
        assert breaker.open_until() is None, "an answered call between two failures left the breaker counting"
        assert redis_client().get(breaker.FAILURES_KEY) == b"1"  # the call that answered for no claim


def test_overlapping_followers_decide_each_claim_once_and_text_each_patient_once(app, clinic, travel_sandbox):
    """Two runs read the same due claims; the quicker one decides the first claim before the other writes.
    The other's batch, whose decisions are one statement when every claim is still filed, then decides the
    two left and texts only their patients."""
    from portal.sandbox.referral_system import random_fodselsnummer
    from portal.travel_pay import following

    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=0, decision="ApprovedForPayment")
    rng = random.Random(31)
    claim_ids = [filed_claim(app, clinic, make_checkin_patient(app, fnr=random_fodselsnummer(rng),
                                                               last_name=f"Overlap{i}"),
                             travel_sandbox, minutes_from_now=20 + 5 * i) for i in range(3)]
    for claim_id in claim_ids:
        make_due(app, claim_id)
    with app.app_context():
        rows = db.session.execute(following._DUE, {"now": utcnow(), "batch": 500}).all()
        for row in rows:
            db.session.expunge(row[0])
        db.session.commit()
        assert sorted(row[0].id for row in rows) == sorted(claim_ids)
        quicker, slower = ({"checked": 0, "decided": 0, "stopped": 0, "failed": 0} for _ in range(2))
        assert following._follow_batch([row for row in rows if row[0].id == claim_ids[0]], quicker, None, 0)
        assert following._follow_batch(rows, slower, None, 0)
    assert (quicker["decided"], slower["decided"], slower["checked"]) == (1, 2, 3)
    assert {claim(app, claim_id).status for claim_id in claim_ids} == {"decided"}
    assert len(decision_messages(app)) == 3
    with app.app_context():
        assert sorted(int(subject) for subject in db.session.scalars(select(AuditEvent.subject_id).where(
            AuditEvent.action == "travel_claim.decided"))) == sorted(claim_ids)
