"""What a claim costs the worker, counted exactly (no timing): SQL statements, commits and Redis round
trips per filed claim, through the worker `flask worker` runs. bench/claims_profile.py prints the same
counts, with CPU, for 1,000 claims. A budget may go down; raising one needs the reason in the commit.

The differences of two bursts are what the extra claims cost: the worker's start-up and the end cancel out.
"""

import random

from rq import Queue
from sqlalchemy import func, select

from portal.extensions import db, worker_redis
from portal.ops.workers import InProcessWorker
from portal.sandbox.referral_system import random_fodselsnummer
from portal.travel_pay import services
from portal.travel_pay.models import TravelClaim
from tests.checkin.conftest import make_checkin_patient
from tests.ops.test_workers import counting_round_trips, without_clock_driven_round_trips
from tests.test_hot_path_budgets import counting
from tests.travel_pay.test_claim_job import checked_in_claim
from tests.travel_pay.test_following_and_breaker import follow, make_due

# Per filed claim: take the attempt and read it (2 statements, commit); the outcome, its SMS and its audit
# event (4 statements: the UPDATE, lock the audit chain's head, two INSERTs (the event's moves the head); commit).
FILING_SQL, FILING_COMMITS = 6, 2
# The worker's own 10 (tests/ops/test_workers.py), the token and the breaker's state in one MGET, and the
# outcome SMS's job in one pipeline.
FILING_ROUND_TRIPS = 12


def due_claims(app, clinic, rng: random.Random, minutes: list[int]) -> list[int]:
    """A patient checks in for each slot (`minutes` from now), each with a claim due now."""
    return [checked_in_claim(app, clinic, make_checkin_patient(app, fnr=random_fodselsnummer(rng),
                                                               last_name=f"Claimant{rng.randrange(10**6)}"),
                             minutes_from_now=minutes_from_now)
            for minutes_from_now in minutes]


def burst(app, monkeypatch) -> tuple:
    """Work the claims queue until it is empty; returns the SQL counts and the Redis round trips."""
    with app.app_context():
        connection = worker_redis()
        without_clock_driven_round_trips(monkeypatch)
        with counting(app) as counted, counting_round_trips(monkeypatch) as sent:
            InProcessWorker([Queue("claims", connection=connection)], connection=connection).work(burst=True)
        db.session.remove()
    return counted, len(sent)


def test_a_filed_claim_costs_seven_statements_two_commits_and_twelve_redis_round_trips(
        app, clinic, travel_sandbox, monkeypatch):
    rng = random.Random(22)
    due_claims(app, clinic, rng, [20])
    burst(app, monkeypatch)  # the first fetches the token
    due_claims(app, clinic, rng, [25])
    one, one_sent = burst(app, monkeypatch)
    due_claims(app, clinic, rng, [30, 35, 40])
    three, three_sent = burst(app, monkeypatch)

    assert travel_sandbox.counters()["filings"] == 5 and travel_sandbox.counters()["duplicates"] == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TravelClaim)
                                 .where(TravelClaim.status == "filed")) == 5
    statements, commits = (three.statements - one.statements) / 2, (three.commits - one.commits) / 2
    assert statements <= FILING_SQL, three.sql
    assert commits == FILING_COMMITS, three.sql
    assert one.statements == FILING_SQL and one.commits == FILING_COMMITS, one.sql
    assert (three_sent - one_sent) / 2 <= FILING_ROUND_TRIPS


def test_following_asks_a_batch_of_claims_in_one_request_and_writes_the_undecided_in_one_statement(
        app, clinic, travel_sandbox, monkeypatch):
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=3600)
    claim_ids = due_claims(app, clinic, random.Random(17), [20, 25, 30])
    burst(app, monkeypatch)
    for claim_id in claim_ids:
        make_due(app, claim_id)
    with counting(app) as undecided:
        assert follow(app) == {"checked": 3, "decided": 0, "stopped": 0, "failed": 0, "paused": False}
    assert travel_sandbox.counters()["status_requests"] == 1 and travel_sandbox.counters()["status_checks"] == 3
    # The due claims' SELECT (its own commit: no transaction, on SQLite the write lock, waits while the claims
    # API answers) and one UPDATE (executemany) for the three, in one commit.
    assert undecided.statements == 2 and undecided.commits == 2, undecided.sql

    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=0)
    for claim_id in claim_ids:
        make_due(app, claim_id)
    with counting(app) as decided:
        assert follow(app)["decided"] == 3
    assert travel_sandbox.counters()["status_requests"] == 2
    # The SELECT; the decisions' UPDATE (one executemany: every claim was still filed), their texts in one
    # INSERT, the audit chain's head locked and the three events in one INSERT (which moves the head).
    assert decided.statements == 1 + 1 + 1 + 2 and decided.commits == 2, decided.sql
    with app.app_context():
        assert set(db.session.scalars(select(TravelClaim.status).where(TravelClaim.id.in_(claim_ids)))) == {"decided"}


# In a batch (the sweep's backlog) a claim pays no RQ bookkeeping of its own, and the claims it takes together
# (ten at a time) share every statement, commit and round trip: their take (one UPDATE, one SELECT, one commit),
# the token and the breaker's state (one MGET), their filed outcomes (one UPDATE executemany, their texts in
# one INSERT, the audit chain's head locked once, their events in one INSERT that moves it, one commit) and their
# texts' dispatch (one pipeline). So three claims taken together cost what one does: 6 statements, 2 commits.
BATCHED_SQL, BATCHED_COMMITS = 6, 2


def test_in_a_batch_claims_taken_together_share_their_statements_commits_and_redis_round_trips(
        app, clinic, travel_sandbox, monkeypatch):
    from portal.notifications.models import Notification
    from portal.security.models import AuditEvent
    from tests.travel_pay.test_backlog_batches import lost_jobs
    from tests.travel_pay.test_claim_job import settings

    rng = random.Random(23)
    due_claims(app, clinic, rng, [20])
    burst(app, monkeypatch)  # the first fetches the token
    counts = []
    for minutes in ([25], [30, 35, 40]):
        claim_ids = due_claims(app, clinic, rng, minutes)
        lost_jobs(app, claim_ids)
        with settings(app, TRAVEL_CLAIM_BATCH_SIZE=10), app.app_context():
            assert services.sweep_travel_claims()["queued"] == len(minutes)
            db.session.remove()
        counts.append(burst(app, monkeypatch))
    (one, one_sent), (three, three_sent) = counts
    assert travel_sandbox.counters()["filings"] == 5 and travel_sandbox.counters()["duplicates"] == 0
    assert one.statements == BATCHED_SQL and one.commits == BATCHED_COMMITS, one.sql
    assert three.statements == one.statements and three.commits == one.commits, three.sql
    assert three_sent == one_sent
    with app.app_context():  # each of the three has its outcome, its text and its audit event
        patients = db.session.scalars(select(TravelClaim.patient_id).where(TravelClaim.id.in_(claim_ids),
                                                                          TravelClaim.status == "filed")).all()
        assert len(patients) == 3
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.kind == "travel_claim.filed", Notification.patient_id.in_(patients))) == 3
        events = db.session.execute(select(AuditEvent.subject_id, AuditEvent.details).where(
            AuditEvent.action == "travel_claim.filed", AuditEvent.patient_id.in_(patients))).all()
        assert sorted(int(subject) for subject, _ in events) == sorted(claim_ids)
        assert {details["attempt"] for _, details in events} == {1}
