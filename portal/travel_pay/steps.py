"""Filing a claim in the VA's own step sequence (vets-api's check-in ClaimSubmissionService and its
travel-pay client), the second claims adapter (TRAVEL_CLAIMS_ADAPTER=steps):

    client-credentials token (cached in Redis, shared)  →  the patient's system access token
    →  find-or-add the appointment  →  create the claim  →  add the mileage expense  →  submit the claim

Each step is logged by name with the filing's correlation id, its outcome, its time and, on failure, the
VA's code (CLM_…) — never patient data. Every request of one filing carries that correlation id.

Progress is written to the claim after every step (its claims-system appointment id, claim id, and the
last step done), so a retry resumes at the step that failed: it never creates a second claim. When a
mutating step timed out (or its worker was cut off) the claim's `outcome_unknown` is set, and the retry
first asks the claims system what it has — the claim by its id, or the patient's claims for the
appointment's time — before doing any step again.
"""

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from portal.travel_pay.clients import (
    CLM_APPOINTMENT_NOT_FOUND,
    CLM_CLAIM_EXISTS,
    CLM_INVALID_AUTH,
    CLM_MULTIPLE_APPTS,
    CLM_SUBMISSION_ERROR,
    CLM_TIMEOUT,
    BtsssClient,
    ClaimAlreadyExists,
    ClaimOutcomeUnknown,
    ClaimRejected,
    ClaimsApiUnavailable,
    FiledClaim,
    StepFailed,
    TokenRejected,
)

log = logging.getLogger(__name__)

APPOINTMENT, CLAIM, EXPENSE = "appointment", "claim", "expense"  # `steps_done`: the last step that worked
# A timeout in these may have changed the claims system: the outcome is unknown, ask before going on.
MUTATING = {"create_claim", "add_mileage_expense", "submit_claim"}
# The claims system's statuses of a claim not yet submitted.
NOT_SUBMITTED = {"Saved", "Incomplete"}


@dataclass
class StepFiling:
    """What the sequence needs from a claim, and its progress so far."""
    claim_id: int
    patient_ref: str          # how the claims system knows the patient (our patient id, as the single POST)
    appointment_time: str     # ISO date-time, UTC
    facility: str
    date_incurred: str        # ISO date
    outcome_unknown: bool
    external_appointment_id: str | None
    external_claim_id: str | None
    steps_done: str | None


class _Steps:
    """One filing's run through the sequence: one correlation id, every step timed and logged."""

    def __init__(self, client: BtsssClient, filing: StepFiling):
        self.client, self.filing, self.correlation_id = client, filing, str(uuid.uuid4())
        self.auth: dict = {}

    def run(self, step: str, call: Callable):
        started = time.monotonic()
        try:
            result = call()
        except StepFailed as failed:
            self._log(step, "failed", started, failed.code)
            raise
        self._log(step, "ok", started, None)
        return result

    def _log(self, step: str, outcome: str, started: float, code: str | None) -> None:
        ms = (time.monotonic() - started) * 1000
        log.info("travel claim %s: step %s %s%s (%.0f ms)", self.filing.claim_id, step, outcome,
                 f" {code}" if code else "", ms,
                 extra={"travel_claim_id": self.filing.claim_id, "step": step, "outcome": outcome, "code": code,
                        "correlation_id": self.correlation_id, "duration_ms": round(ms, 1)})


def file_in_steps(client: BtsssClient, token: str, filing: StepFiling, record: Callable[..., None]) -> FiledClaim:
    """Run the sequence from where this claim got to; `record(**columns)` saves progress after each step.

    Raises what the single POST raises: ClaimRejected / ClaimAlreadyExists (not retried),
    ClaimOutcomeUnknown (a mutating step timed out), TokenRejected, ClaimsApiUnavailable.
    """
    steps = _Steps(client, filing)
    try:
        return _run(steps, token, filing, record)
    except StepFailed as failed:
        raise _as_outcome(failed) from None


def _run(steps: _Steps, token: str, filing: StepFiling, record) -> FiledClaim:
    access = steps.run("system_access_token",
                       lambda: steps.client.system_access_token(token, filing.patient_ref, steps.correlation_id))
    auth = {"Authorization": f"Bearer {token}", "BTSSS-Access-Token": access,
            "X-Correlation-ID": steps.correlation_id}
    if filing.outcome_unknown:
        done = _what_the_claims_system_has(steps, auth, filing, record)
        if done is not None:
            return done
    if filing.external_appointment_id is None:
        filing.external_appointment_id = steps.run("find_or_add_appointment", lambda: (
            steps.client.find_or_add_appointment(auth, filing.appointment_time, filing.facility)))
        filing.steps_done = APPOINTMENT
        record(external_appointment_id=filing.external_appointment_id, steps_done=APPOINTMENT)
    if filing.external_claim_id is None:
        filing.external_claim_id = steps.run("create_claim", lambda: steps.client.create_claim(
            auth, filing.external_appointment_id))
        filing.steps_done = CLAIM
        record(external_claim_id=filing.external_claim_id, steps_done=CLAIM, outcome_unknown=False)
    if filing.steps_done != EXPENSE:
        steps.run("add_mileage_expense", lambda: steps.client.add_mileage_expense(
            auth, filing.external_claim_id, filing.date_incurred))
        filing.steps_done = EXPENSE
        record(steps_done=EXPENSE, outcome_unknown=False)
    submitted = steps.run("submit_claim", lambda: steps.client.submit_claim(auth, filing.external_claim_id))
    return _filed(submitted)


def _what_the_claims_system_has(steps: _Steps, auth: dict, filing: StepFiling, record) -> FiledClaim | None:
    """After a timeout: the claim as the claims system has it. Returns it when it is already submitted;
    otherwise notes how far it got (claim created? expense added?) so the sequence goes on from there."""
    if filing.external_claim_id is not None:
        found = steps.run("get_claim", lambda: steps.client.get_claim(auth, filing.external_claim_id))
    else:
        candidates = steps.run("search_claims", lambda: steps.client.claims_by_appointment_date(
            auth, filing.appointment_time, filing.appointment_time))
        found = next((c for c in candidates if c.get("appointmentDateTime") == filing.appointment_time), None)
    if found is None:
        return None
    if found.get("claimStatus") not in NOT_SUBMITTED and found.get("claimNumber"):
        return _filed(found, replayed=True)
    filing.external_claim_id = str(found["claimId"])
    filing.steps_done = EXPENSE if found.get("expenses") else CLAIM
    record(external_claim_id=filing.external_claim_id, steps_done=filing.steps_done, outcome_unknown=False)
    return None


def claim_status_in_steps(client: BtsssClient, token: str, filing: StepFiling) -> str:
    """The claims system's status of a submitted claim (for following it to its decision)."""
    steps = _Steps(client, filing)
    try:
        access = steps.run("system_access_token",
                           lambda: client.system_access_token(token, filing.patient_ref, steps.correlation_id))
        auth = {"Authorization": f"Bearer {token}", "BTSSS-Access-Token": access,
                "X-Correlation-ID": steps.correlation_id}
        found = steps.run("get_claim", lambda: client.get_claim(auth, filing.external_claim_id))
    except StepFailed as failed:
        raise _as_outcome(failed) from None
    status = found.get("claimStatus")
    if not isinstance(status, str) or not status:
        raise ClaimsApiUnavailable("step get_claim: answer without a status")
    return status


def _filed(answer: dict, replayed: bool = False) -> FiledClaim:
    number, status = answer.get("claimNumber"), answer.get("claimStatus")
    if not number:
        raise ClaimsApiUnavailable("step submit_claim: answer without a claim number")
    return FiledClaim(str(number), str(status or "ClaimSubmitted"), replayed=replayed)


def _as_outcome(failed: StepFailed) -> Exception:
    """A step's failure as the service understands it (the step and the VA's code stay in the message)."""
    detail = str(failed)
    if failed.code == CLM_TIMEOUT:
        return ClaimOutcomeUnknown(detail) if failed.step in MUTATING else ClaimsApiUnavailable(detail)
    if failed.code == CLM_INVALID_AUTH:
        return TokenRejected(detail)
    if failed.code == CLM_CLAIM_EXISTS:
        return ClaimAlreadyExists(detail)
    if failed.code in (CLM_APPOINTMENT_NOT_FOUND, CLM_MULTIPLE_APPTS):
        return ClaimRejected("no_appointment", detail)
    if failed.code == CLM_SUBMISSION_ERROR:
        return ClaimRejected("unknown_patient" if failed.step == "system_access_token" else "invalid_claim", detail)
    return ClaimsApiUnavailable(detail)
