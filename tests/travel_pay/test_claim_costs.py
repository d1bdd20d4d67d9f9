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
from portal.travel_pay.models import TravelClaim
from tests.checkin.conftest import make_checkin_patient
from tests.ops.test_workers import counting_round_trips
from tests.test_hot_path_budgets import counting
from tests.travel_pay.test_claim_job import checked_in_claim

# Per filed claim: take the attempt and read it (2 statements, commit); the outcome, its SMS and its audit
# event (5 statements: the UPDATE, lock and move the audit chain's head, two INSERTs; commit).
FILING_SQL, FILING_COMMITS = 7, 2
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
