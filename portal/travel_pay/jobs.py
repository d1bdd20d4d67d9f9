"""RQ entry points for travel claims. Workers run inside the app context (`flask worker`)."""

from flask import current_app

from portal import periodic
from portal.travel_pay import following, services


def submit_travel_claim(claim_id: int) -> str:
    """File one claim. Retries are scheduled by the service as new attempts, never by raising."""
    return services.submit_claim(claim_id)


def file_travel_claims(claim_ids: list[int]) -> dict:
    """File a batch of due claims that the sweep found without a job (a backlog), one after another."""
    return services.submit_claims(claim_ids)


def sweep_travel_claims() -> dict:
    """The periodic sweep: runs, then schedules its next run."""
    try:
        return services.sweep_travel_claims()
    finally:
        schedule_sweep()


def schedule_sweep() -> None:
    periodic.schedule_next("travel-claims-sweep", "portal.travel_pay.jobs.sweep_travel_claims",
                           current_app.config["TRAVEL_CLAIM_SWEEP_SECONDS"], queue=services.QUEUE_NAME)


def follow_travel_claims() -> dict:
    """The periodic status follower: asks the claims system about filed claims that are due, then
    schedules its next run."""
    try:
        return following.follow_claims()
    finally:
        schedule_follower()


def schedule_follower() -> None:
    # At the front of the claims queue: behind a backlog of filings (10k in bench/claims.py) it would
    # wait until the backlog is gone, and no claim would be followed meanwhile.
    periodic.schedule_next("travel-claims-follow", "portal.travel_pay.jobs.follow_travel_claims",
                           current_app.config["TRAVEL_CLAIM_STATUS_SWEEP_SECONDS"], queue=services.QUEUE_NAME,
                           at_front=True)
