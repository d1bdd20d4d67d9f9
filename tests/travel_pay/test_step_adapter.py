"""The second claims adapter (TRAVEL_CLAIMS_ADAPTER=steps): the VA's sequence against the sandbox's BTSSS
stand-in, step by step, resuming where it failed and never creating a second claim."""

import logging

import pytest

from portal.travel_pay.clients import (
    CLM_APPOINTMENT_NOT_FOUND,
    CLM_CLAIM_EXISTS,
    CLM_INVALID_AUTH,
    CLM_MULTIPLE_APPTS,
    CLM_SUBMISSION_ERROR,
    CLM_TIMEOUT,
    CLM_UNKNOWN_ERROR,
    step_code,
)
from tests.checkin.conftest import make_checkin_patient, run_claim_jobs
from tests.travel_pay.test_claim_job import checked_in_claim, claim, settings
from tests.travel_pay.test_following_and_breaker import follow, make_due, make_retry_due

SEQUENCE = ["system_access_token", "find_or_add_appointment", "create_claim", "add_mileage_expense", "submit_claim"]


@pytest.fixture
def in_steps(app):
    with settings(app, TRAVEL_CLAIMS_ADAPTER="steps"):
        yield


def test_a_claim_is_filed_in_the_vas_steps_with_one_correlation_id_each_step_logged_by_name(
        app, clinic, checkin_patient, travel_sandbox, in_steps, caplog):
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    with caplog.at_level(logging.INFO, logger="portal.travel_pay.steps"):
        run_claim_jobs(app)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.claim_number == "TC-0000001" and filed.attempts == 1
    assert filed.claim_status == "ClaimSubmitted" and filed.external_claim_id and filed.external_appointment_id
    assert filed.steps_done == "expense" and not filed.outcome_unknown
    counters = travel_sandbox.counters()
    assert counters["steps"] == SEQUENCE
    assert len(set(counters["correlation_ids"])) == 1 and counters["correlation_ids"][0]
    assert (counters["claims_created"], counters["expenses_added"], counters["filings"], counters["duplicates"]) \
        == (1, 1, 1, 0)

    records = [r for r in caplog.records if r.name == "portal.travel_pay.steps"]
    assert [r.step for r in records] == SEQUENCE and {r.outcome for r in records} == {"ok"}
    assert {r.correlation_id for r in records} == set(counters["correlation_ids"])
    logged = " ".join(r.getMessage() for r in records)
    assert "Danser" not in logged and "+4791234567" not in logged and f"patient {checkin_patient}" not in logged


def test_a_retry_resumes_at_the_step_that_failed_without_a_second_claim(app, clinic, checkin_patient,
                                                                         travel_sandbox, in_steps):
    travel_sandbox.set_mode(mode="fail", failures=1, step="add_mileage_expense")
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    waiting = claim(app, claim_id)
    assert waiting.status == "queued" and waiting.steps_done == "claim" and waiting.external_claim_id
    assert waiting.last_error == f"step add_mileage_expense: {CLM_UNKNOWN_ERROR} (HTTP 503)"

    with settings(app, TRAVEL_CLAIM_RETRY_HOURS=0):
        make_retry_due(app, claim_id)
        run_claim_jobs(app, with_scheduler=True)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.attempts == 2 and filed.external_claim_id == waiting.external_claim_id
    counters = travel_sandbox.counters()
    assert counters["steps"] == SEQUENCE[:4] + ["system_access_token", "add_mileage_expense", "submit_claim"]
    assert len(set(counters["correlation_ids"][:4])) == 1 and len(set(counters["correlation_ids"])) == 2
    assert (counters["appointments_added"], counters["claims_created"], counters["expenses_added"],
            counters["duplicates"], counters["filings"]) == (1, 1, 1, 0, 1)


def test_a_timeout_creating_the_claim_is_followed_by_a_search_and_the_claim_it_made_is_used(
        app, clinic, checkin_patient, travel_sandbox, in_steps):
    travel_sandbox.set_mode(mode="slow", slow_seconds=2, step="create_claim")  # created, answered too late
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    with settings(app, EXTERNAL_TIMEOUT_SECONDS=0.5):
        run_claim_jobs(app)
        unknown = claim(app, claim_id)
        assert unknown.status == "queued" and unknown.outcome_unknown and unknown.external_claim_id is None
        assert unknown.last_error == f"step create_claim: {CLM_TIMEOUT}"
        travel_sandbox.set_mode(mode="succeed")
        with settings(app, TRAVEL_CLAIM_RETRY_HOURS=0):
            make_retry_due(app, claim_id)
            run_claim_jobs(app, with_scheduler=True)
    filed = claim(app, claim_id)
    assert filed.status == "filed" and filed.attempts == 2 and not filed.outcome_unknown
    counters = travel_sandbox.counters()
    assert counters["claims_created"] == 1 and counters["duplicates"] == 0 and counters["lookups"] == 1
    assert counters["steps"][-4:] == ["system_access_token", "status", "add_mileage_expense", "submit_claim"]


def test_claim_exists_in_the_steps_is_its_own_outcome(app, clinic, checkin_patient, travel_sandbox, in_steps):
    travel_sandbox.set_mode(mode="exists")
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    exists = claim(app, claim_id)
    assert exists.status == "exists" and CLM_CLAIM_EXISTS in exists.last_error and exists.attempts == 1


def test_a_patient_the_claims_system_does_not_know_is_rejected_at_the_token_step(app, clinic, checkin_patient,
                                                                                 travel_sandbox, in_steps):
    travel_sandbox.set_mode(mode="validation", patient_id=str(checkin_patient))
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    rejected = claim(app, claim_id)
    assert rejected.status == "rejected" and rejected.last_error == (
        f"claims API refused the claim: unknown_patient (step system_access_token: {CLM_SUBMISSION_ERROR} (HTTP 400))")
    assert travel_sandbox.counters()["claims_created"] == 0


def test_the_client_credentials_token_is_shared_and_the_system_token_is_per_patient(app, clinic, checkin_patient,
                                                                                    travel_sandbox, in_steps):
    checked_in_claim(app, clinic, checkin_patient)
    checked_in_claim(app, clinic, make_checkin_patient(app, fnr="01018012371", last_name="Nordmann"), 25)
    run_claim_jobs(app)
    counters = travel_sandbox.counters()
    assert counters["tokens_issued"] == 1 and counters["system_tokens_issued"] == 2 and counters["filings"] == 2


def test_a_claim_filed_in_steps_is_followed_by_its_claim_id(app, clinic, checkin_patient, travel_sandbox,
                                                            in_steps):
    travel_sandbox.set_mode(mode="succeed", decide_after_seconds=0, decision="Denied")
    claim_id = checked_in_claim(app, clinic, checkin_patient)
    run_claim_jobs(app)
    make_due(app, claim_id)
    assert follow(app)["decided"] == 1
    decided = claim(app, claim_id)
    assert decided.status == "decided" and decided.claim_status == "Denied"


@pytest.mark.parametrize("status, message, code", [
    (400, "10/16/2020 : There were multiple appointments for that date", CLM_MULTIPLE_APPTS),
    (400, "10/16/2020 : This appointment already has a claim associated with it.", CLM_CLAIM_EXISTS),
    (404, "Appointment not found", CLM_APPOINTMENT_NOT_FOUND),
    (401, "", CLM_INVALID_AUTH),
    (400, "Something else", CLM_SUBMISSION_ERROR),
    (503, "", CLM_UNKNOWN_ERROR),
])
def test_step_failures_map_to_the_vas_codes(status, message, code):
    assert step_code(status, message) == code


def test_an_unknown_adapter_is_refused_at_start_up():
    import os

    from portal.config import load_settings

    with pytest.raises(ValueError, match="single or steps"):
        load_settings({**os.environ, "TRAVEL_CLAIMS_ADAPTER": "carrier-pigeon"})
    assert load_settings({**os.environ, "TRAVEL_CLAIMS_ADAPTER": "Steps"})["TRAVEL_CLAIMS_ADAPTER"] == "steps"
