"""A backlog of due claims that no job holds (Redis or the workers were down) is handed to jobs in batches;
each claim in a batch is still taken by its own conditional UPDATE, so it is filed exactly once."""

import random
from datetime import timedelta

from rq import Queue
from rq.job import Job
from sqlalchemy import select, update

from portal.extensions import db, redis_client
from portal.security.models import AuditEvent, utcnow
from portal.travel_pay import services
from portal.travel_pay.models import TravelClaim
from tests.checkin.conftest import run_claim_jobs
from tests.travel_pay.test_claim_costs import due_claims
from tests.travel_pay.test_claim_job import claim, settings


def lost_jobs(app, claim_ids: list[int]) -> None:
    """Redis lost the claims' jobs: the claims are `queued` with nothing to run them."""
    with app.app_context():
        for claim_id in claim_ids:
            redis_client().delete(f"rq:job:{services.job_id(claim_id, 1)}")
        redis_client().delete("rq:queue:claims")


def backlog(app, clinic, count: int, seed: int) -> list[int]:
    claim_ids = due_claims(app, clinic, random.Random(seed), [20 + 5 * i for i in range(count)])
    lost_jobs(app, claim_ids)
    return claim_ids


def test_a_backlog_goes_to_batch_jobs_that_file_each_claim_once_and_the_next_sweep_queues_nothing(
        app, clinic, travel_sandbox):
    claim_ids = backlog(app, clinic, 3, seed=5)
    with settings(app, TRAVEL_CLAIM_BATCH_SIZE=2), app.app_context():
        assert services.sweep_travel_claims() == {"recovered": 0, "queued": 3}
        assert Queue("claims", connection=redis_client()).count == 2  # two jobs: two claims and one
        # The batches hold the claims: neither the next sweep nor a claim's own enqueue queues them again.
        assert services.sweep_travel_claims() == {"recovered": 0, "queued": 0}
        assert services.enqueue_claim(claim_ids[0], 1, claim(app, claim_ids[0]).next_attempt_at)
        assert Queue("claims", connection=redis_client()).count == 2
    run_claim_jobs(app)
    assert [claim(app, claim_id).status for claim_id in claim_ids] == ["filed"] * 3
    counters = travel_sandbox.counters()
    assert counters["filings"] == 3 and counters["duplicates"] == 0 and counters["replays"] == 0
    with app.app_context():
        assert redis_client().hlen(services.BATCHED_KEY) == 0  # each batch cleared its claims when done


def test_a_claim_of_a_batch_that_another_run_took_first_is_filed_once(app, clinic, travel_sandbox):
    claim_ids = backlog(app, clinic, 2, seed=6)
    with settings(app, TRAVEL_CLAIM_BATCH_SIZE=10), app.app_context():
        assert services.sweep_travel_claims()["queued"] == 2
        # A recovered re-run of the first claim's attempt, ahead of the batch in the queue.
        Queue("claims", connection=redis_client()).enqueue(services.SUBMIT_JOB, claim_ids[0], at_front=True,
                                                           job_id=services.job_id(claim_ids[0], 1))
    run_claim_jobs(app)
    assert {claim(app, claim_id).status for claim_id in claim_ids} == {"filed"}
    assert claim(app, claim_ids[0]).attempts == 1
    counters = travel_sandbox.counters()
    assert counters["filings"] == 2 and counters["duplicates"] == 0 and counters["replays"] == 0


def test_a_claim_that_fails_in_a_batch_is_retried_by_a_job_of_its_own(app, clinic, travel_sandbox):
    claim_ids = backlog(app, clinic, 2, seed=7)
    travel_sandbox.set_mode(mode="fail", failures=1)
    with settings(app, TRAVEL_CLAIM_BATCH_SIZE=10), app.app_context():
        assert services.sweep_travel_claims()["queued"] == 2
    run_claim_jobs(app)
    waiting, filed = (claim(app, claim_id) for claim_id in claim_ids)
    assert waiting.status == "queued" and waiting.attempts == 1 and filed.status == "filed"
    with app.app_context():
        retry = Job.fetch(services.job_id(waiting.id, 2), connection=redis_client())
        assert retry.get_status() == "scheduled" and retry.args == (waiting.id,)
        # The batch is gone and so is its hold: the retry is the claim's live job.
        assert services.sweep_travel_claims() == {"recovered": 0, "queued": 0}


def test_a_batch_job_that_died_leaves_its_claims_to_the_next_sweep(app, clinic, travel_sandbox):
    claim_ids = backlog(app, clinic, 2, seed=8)
    with settings(app, TRAVEL_CLAIM_BATCH_SIZE=10), app.app_context():
        assert services.sweep_travel_claims()["queued"] == 2
        lost = redis_client().hget(services.BATCHED_KEY, str(claim_ids[0])).decode().partition(" ")[0]
        redis_client().delete(f"rq:job:{lost}", "rq:queue:claims")  # the job is gone with its worker
        assert services.sweep_travel_claims()["queued"] == 2
        assert redis_client().hget(services.BATCHED_KEY, str(claim_ids[0])).decode().partition(" ")[0] != lost
    run_claim_jobs(app)
    with app.app_context():
        statuses = db.session.scalars(select(TravelClaim.status).where(TravelClaim.id.in_(claim_ids))).all()
    assert statuses == ["filed", "filed"] and travel_sandbox.counters()["filings"] == 2


def test_a_batch_hands_every_claim_text_to_the_notifications_queue_at_once(app, clinic, travel_sandbox, monkeypatch):
    from portal.notifications import services as outbox
    from portal.notifications.models import Notification

    dispatched = []
    real_dispatch = outbox.dispatch
    monkeypatch.setattr(outbox, "dispatch", lambda ids: (dispatched.append(list(ids)), real_dispatch(ids)))
    claim_ids = backlog(app, clinic, 3, seed=11)
    with settings(app, TRAVEL_CLAIM_BATCH_SIZE=10), app.app_context():
        assert services.sweep_travel_claims()["queued"] == 3
    run_claim_jobs(app)
    assert [claim(app, claim_id).status for claim_id in claim_ids] == ["filed"] * 3
    with app.app_context():
        texts = db.session.scalars(select(Notification.id).where(Notification.kind == "travel_claim.filed",
                                                                 Notification.patient_id.in_(
                                                                     [claim(app, c).patient_id for c in claim_ids]))
                                   ).all()
        assert len(texts) == 3
        assert [sorted(batch) for batch in dispatched if batch] == [sorted(texts)]
        queued = Queue("notifications", connection=redis_client()).jobs
        assert [sorted(job.args[0]) for job in queued] == [sorted(texts)]  # one job sends the three


def test_claims_a_batch_took_together_wait_unattempted_when_the_breaker_opens_before_their_turn(
        app, clinic, travel_sandbox):
    claim_ids = backlog(app, clinic, 4, seed=12)
    travel_sandbox.set_mode(mode="fail", failures=100)
    with settings(app, TRAVEL_CLAIM_BATCH_SIZE=10, TRAVEL_CLAIM_BREAKER_FAILURES=2), app.app_context():
        assert services.sweep_travel_claims()["queued"] == 4
        run_claim_jobs(app)
        first, second, *waiting = (claim(app, claim_id) for claim_id in claim_ids)
        assert travel_sandbox.counters()["failures_served"] == 2  # then the breaker opened: nobody called out
        assert (first.attempts, second.attempts) == (1, 1)
        for paused in waiting:  # taken with the first two, given back without using an attempt
            assert (paused.status, paused.attempts, paused.pauses) == ("queued", 0, 1)
            job = Job.fetch(services.job_id(paused.id, 1, pauses=1), connection=redis_client())
            assert job.get_status() == "scheduled" and job.args == (paused.id,)


def test_a_claim_a_recovered_run_took_before_its_batch_wrote_the_outcomes_is_left_to_that_run(
        app, clinic, travel_sandbox):
    """The filed outcomes of claims taken together are written together once the last of them has answered.
    If the sweep took one of them back meanwhile (as cut off: its worker looked dead), that one is not
    overwritten: the others are filed with their texts and events, and its own re-run finds the filing
    under its Idempotency-Key instead of filing it again."""
    first, *others = claim_ids = backlog(app, clinic, 3, seed=13)
    with app.app_context():
        texts, filed = [], []
        taken = services._take_together(claim_ids, texts)
        shared = services._Shared()
        assert [services._submit_taken(taken[claim_id], shared, filed) for claim_id in claim_ids] == ["held"] * 3
        db.session.execute(update(TravelClaim).where(TravelClaim.id == first)
                           .values(attempt_started_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert services._recover_stuck(stuck_after_seconds=300) == 1

        assert services._write_filed(filed, texts) == {"superseded": 1, "filed": 2}
        assert len(texts) == 2
        assert sorted(int(subject) for subject in db.session.scalars(select(AuditEvent.subject_id).where(
            AuditEvent.action == "travel_claim.filed"))) == sorted(others)
    recovered = claim(app, first)
    assert (recovered.status, recovered.outcome_unknown, recovered.claim_number) == ("queued", True, None)
    assert [claim(app, claim_id).status for claim_id in others] == ["filed"] * 2

    with app.app_context():
        assert services.submit_claim(first) == "filed"
    assert claim(app, first).claim_number == filed[0][1].claim_number  # the first filing's number
    counters = travel_sandbox.counters()
    assert counters["filings"] == 3 and counters["duplicates"] == 0 and counters["lookups"] == 1
