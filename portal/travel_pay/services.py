"""Travel claims: create one per patient and day, queue it, file it, retry, pause, sweep, re-submit.

A claim row is the truth; Redis only holds the jobs. Each attempt has its own job id
(`travel-claim-<id>-<attempt>`, with `-p<n>` after the breaker paused it n times), so the same attempt
is never queued twice and an attempt's retry never collides with the job that schedules it. The job
claims the row with a conditional UPDATE before it calls out, and writes its outcome only if the row is
still its own attempt. The Idempotency-Key is fixed per claim, so a re-run after a kill -9 cannot file
twice; and an attempt that timed out (or was cut off) is followed by a status check before anything is
filed again. Two adapters file: the single POST (default) and the VA's step sequence (`steps.py`).
"""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import redis
from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from rq import Queue
from rq.timeouts import JobTimeoutException
from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db, redis_client
from portal.i18n.formatting import day
from portal.i18n.languages import speaking
from portal.notifications import services as outbox
from portal.patients.models import Patient
from portal.scheduling.models import Appointment, Location, Schedule, Slot
from portal.security import audit
from portal.security.models import utcnow
from portal.travel_pay import breaker
from portal.travel_pay.agreement import Agreement
from portal.travel_pay.clients import (
    BtsssClient,
    ClaimAlreadyExists,
    ClaimOutcomeUnknown,
    ClaimRejected,
    ClaimsApiClient,
    ClaimsApiUnavailable,
    FiledClaim,
    TokenRejected,
    TokenServiceClient,
)
from portal.travel_pay.models import EXISTS, FAILED, FILED, NOT_QUEUED, QUEUED, REJECTED, SUBMITTING, TravelClaim
from portal.travel_pay.steps import StepFiling, file_in_steps

log = logging.getLogger(__name__)

QUEUE_NAME = "claims"
SUBMIT_JOB = "portal.travel_pay.jobs.submit_travel_claim"
BATCH_JOB = "portal.travel_pay.jobs.file_travel_claims"
# Which batch job holds a claim's attempt that the sweep handed to one: claim id → "<batch's job id>
# <the attempt's job id>" (see enqueue_batch): a later attempt of the claim (a retry, a pause) is not held.
BATCHED_KEY = "travel-claims:batched"
TOKEN_KEY = "travel-claims:token"
# A job may start a little before next_attempt_at (clock skew between hosts); not more.
EARLY_START = timedelta(seconds=60)
REJECTION_REASONS = {
    "unknown_patient": _l("the claims system does not know you as a patient"),
    "no_appointment": _l("the claims system has no record of this appointment"),
    "claim_exists": _l("a claim for this day already exists"),
    "invalid_claim": _l("the claims system could not accept it"),
}


class AlreadyClaimedThatDay(Exception):
    """The patient already has a travel claim for this appointment day."""

    def __init__(self, claim: TravelClaim):
        super().__init__(claim.id)
        self.claim = claim


# --- creating and queueing -----------------------------------------------------------------------

def claim_due_at(appointment_start: datetime) -> datetime:
    """When the claim is filed: TRAVEL_CLAIM_DELAY_HOURS after the appointment (tests: seconds after now)."""
    cfg = current_app.config
    if cfg.get("TRAVEL_CLAIM_DELAY_SECONDS") is not None:
        return utcnow() + timedelta(seconds=cfg["TRAVEL_CLAIM_DELAY_SECONDS"])
    return appointment_start + timedelta(hours=cfg["TRAVEL_CLAIM_DELAY_HOURS"])


def create_claim(*, patient_id: int, appointment, appointment_date, answers: dict,
                 agreement: Agreement) -> TravelClaim:
    """Store a claim (not yet queued) in the caller's transaction, or raise AlreadyClaimedThatDay.

    `agreement` is the beneficiary travel agreement the patient accepted: its version, language and
    wording are stored with the claim (no claim without one).
    """
    now = utcnow()
    claim = TravelClaim(patient_id=patient_id, appointment_id=appointment.id, appointment_date=appointment_date,
                        answers=dict(answers), status=NOT_QUEUED, attempts=0,
                        max_attempts=current_app.config["TRAVEL_CLAIM_MAX_ATTEMPTS"],
                        next_attempt_at=claim_due_at(appointment.start), idempotency_key=uuid.uuid4().hex,
                        agreement_version=agreement.version, agreement_language=agreement.language,
                        agreement_text=agreement.as_text(), agreed_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(claim)
    except IntegrityError:
        existing = db.session.scalar(select(TravelClaim).where(TravelClaim.patient_id == patient_id,
                                                               TravelClaim.appointment_date == appointment_date))
        raise AlreadyClaimedThatDay(existing) from None
    audit.record("travel_claim.created", subject=claim, patient_id=patient_id, actor=("patient", str(patient_id)),
                 agreement=agreement.version, language=agreement.language)
    return claim


def job_id(claim_id: int, attempt: int, pauses: int = 0) -> str:
    return f"travel-claim-{claim_id}-{attempt}" + (f"-p{pauses}" if pauses else "")


def _queue() -> Queue:
    return Queue(QUEUE_NAME, connection=redis_client())


_LIVE = {b"queued", b"scheduled", b"started", b"deferred"}


def _live_jobs(job_ids: list[str]) -> set[str]:
    """Which of these claim jobs (`job_id(...)`) Redis still holds as waiting or running, by itself or
    inside a waiting or running batch job (one round trip; two when batches hold some)."""
    if not job_ids:
        return set()
    pipe = redis_client().pipeline(transaction=False)
    for jid in job_ids:
        pipe.hget(f"rq:job:{jid}", "status")
    claim_ids = [_claim_of(jid) for jid in job_ids]
    pipe.hmget(BATCHED_KEY, claim_ids)
    *statuses, batches = pipe.execute()
    live = {jid for jid, status in zip(job_ids, statuses) if status in _LIVE}
    held = {jid: batch.decode().partition(" ")[0] for jid, batch in zip(job_ids, batches)
            if batch and jid not in live and batch.decode().partition(" ")[2] == jid}
    if not held:
        return live
    batch_ids = sorted(set(held.values()))
    pipe = redis_client().pipeline(transaction=False)
    for batch_id in batch_ids:
        pipe.hget(f"rq:job:{batch_id}", "status")
    live_batches = {batch_id for batch_id, status in zip(batch_ids, pipe.execute()) if status in _LIVE}
    gone = [_claim_of(jid) for jid, batch_id in held.items() if batch_id not in live_batches]
    if gone:  # a batch job that died (or expired) without clearing its claims
        redis_client().hdel(BATCHED_KEY, *gone)
    return live | {jid for jid, batch_id in held.items() if batch_id in live_batches}


def _claim_of(jid: str) -> str:
    return jid.split("-")[2]  # travel-claim-<claim id>-<attempt>[-p<pauses>]


def enqueue_claim(claim_id: int, attempt: int, due: datetime, pauses: int = 0) -> bool:
    """Hand attempt `attempt` of a committed claim to the `claims` queue, due at `due` (naive UTC).

    Never raises: when Redis is down the claim stays `not_queued` and the sweep queues it later.
    """
    jid = job_id(claim_id, attempt, pauses)
    try:
        if not _live_jobs([jid]):
            options = {"job_id": jid, "job_timeout": current_app.config["TRAVEL_CLAIM_JOB_TIMEOUT"],
                       # The claim row is the record of what happened; RQ keeps the result only a minute.
                       # Not 0: RQ deletes such a job at once, with more Redis round trips than letting
                       # it expire (bench/claims.py: 191 → 219 claims/s).
                       "result_ttl": 60, "failure_ttl": 30 * 24 * 3600}
            if due <= utcnow():
                _queue().enqueue(SUBMIT_JOB, claim_id, **options)
            else:
                _queue().enqueue_at(due.replace(tzinfo=timezone.utc), SUBMIT_JOB, claim_id, **options)
    except redis.RedisError:
        log.warning("could not queue travel claim %s; the sweep will", claim_id)
        return False
    db.session.execute(update(TravelClaim).where(TravelClaim.id == claim_id, TravelClaim.status == NOT_QUEUED)
                       .values(status=QUEUED, updated_at=utcnow()))
    db.session.commit()
    return True


def enqueue_batch(attempts: list[tuple[int, str]]) -> bool:
    """Hand due claims to one job that files them one after another (the sweep's backlog), recording in
    BATCHED_KEY which job holds each, so that a later sweep does not queue them again. Each claim is still
    taken by its own conditional UPDATE when its turn comes. `attempts`: (claim id, its attempt's job id).
    Never raises (Redis down: the sweep retries)."""
    batch_id = f"travel-claims-batch-{uuid.uuid4().hex}"
    claim_ids = [claim_id for claim_id, _ in attempts]
    cfg = current_app.config
    try:
        with redis_client().pipeline() as pipe:
            _queue().enqueue(BATCH_JOB, claim_ids, job_id=batch_id, pipeline=pipe,
                             job_timeout=cfg["TRAVEL_CLAIM_JOB_TIMEOUT"] * len(claim_ids),
                             result_ttl=60, failure_ttl=30 * 24 * 3600)
            pipe.hset(BATCHED_KEY, mapping={str(claim_id): f"{batch_id} {jid}" for claim_id, jid in attempts})
            pipe.execute()
    except redis.RedisError:
        log.warning("could not queue %s travel claims; the sweep will", len(claim_ids))
        return False
    db.session.execute(update(TravelClaim).where(TravelClaim.id.in_(claim_ids), TravelClaim.status == NOT_QUEUED)
                       .values(status=QUEUED, updated_at=utcnow()))
    db.session.commit()
    return True


# --- filing (the job) ----------------------------------------------------------------------------

def _token_client() -> TokenServiceClient:
    cfg = current_app.config
    url = cfg["TOKEN_SERVICE_URL"] or f"{cfg['SANDBOX_URL']}/travel/token"
    return TokenServiceClient(url, cfg["TRAVEL_CLIENT_ID"], cfg["TRAVEL_CLIENT_SECRET"],
                              cfg["EXTERNAL_TIMEOUT_SECONDS"])


def _claims_client() -> ClaimsApiClient:
    cfg = current_app.config
    return ClaimsApiClient(cfg["CLAIMS_API_URL"] or f"{cfg['SANDBOX_URL']}/travel/claims",
                           cfg["EXTERNAL_TIMEOUT_SECONDS"])


def btsss_client() -> BtsssClient:
    cfg = current_app.config
    return BtsssClient(cfg["BTSSS_API_URL"] or f"{cfg['SANDBOX_URL']}/travel/btsss", cfg["TRAVEL_CLIENT_NUMBER"],
                       cfg["TRAVEL_CLIENT_SECRET"], cfg["EXTERNAL_TIMEOUT_SECONDS"])


def in_steps() -> bool:
    """Which adapter files: the VA's step sequence (`steps`) or the single POST (`single`, the default)."""
    return current_app.config["TRAVEL_CLAIMS_ADAPTER"] == "steps"


def claims_portal_url() -> str:
    cfg = current_app.config
    return cfg["CLAIMS_PORTAL_URL"] or f"{cfg['SANDBOX_URL']}/travel/portal"


def access_token(cached: bytes | str | None = None) -> str:
    """The token service's JWT, cached in Redis (shared by all workers) until a minute before it expires.
    `cached` is the value the caller already read from TOKEN_KEY (it saves a round trip)."""
    cached = cached or redis_client().get(TOKEN_KEY)
    if cached:
        return cached.decode() if isinstance(cached, bytes) else cached
    issued = _token_client().fetch_token()
    redis_client().set(TOKEN_KEY, issued.access_token, ex=max(issued.expires_in - 60, 1))
    return issued.access_token


@dataclass(frozen=True)
class _Filing:
    """What one attempt needs, read once when the job takes the claim (no lazy loads later)."""
    claim: Row  # the claim's columns as read when taken: the outcome is written with UPDATEs
    attempt: int
    appointment_start: datetime
    location_id: int | None
    location_name: str | None
    phone: str | None
    email: str | None
    language: str | None  # the patient's: the outcome's message is written in it
    # A batch's texts held for one dispatch (`submit_claims`); None: this claim's text is dispatched at once.
    held_texts: list[int] | None = None

    @property
    def day(self) -> date:
        return self.claim.appointment_date


# The job's statements are built once, at import: composing them from column expressions costs more
# CPU than SQLite takes to run them, and the job runs them for every claim. They go through the
# session's connection (Core), inside the session's transaction, without the ORM's bulk-UPDATE layer.
_claims = TravelClaim.__table__

_TAKE = (update(_claims)
         .where(_claims.c.id == bindparam("claim_id"), _claims.c.status.in_((QUEUED, NOT_QUEUED)),
                _claims.c.next_attempt_at <= bindparam("due_by"))
         .values(status=SUBMITTING, attempts=_claims.c.attempts + 1, attempt_started_at=bindparam("now"),
                 updated_at=bindparam("now")))

# The claim with exactly what its payload and message need, in one statement, as a Core row (no ORM
# instance to build, identity-map and expunge per claim): its attributes are the claim's column names.
_READ_CLAIM = (
    select(_claims.c.id, _claims.c.patient_id, _claims.c.appointment_id, _claims.c.appointment_date,
           _claims.c.answers, _claims.c.attempts, _claims.c.max_attempts, _claims.c.idempotency_key,
           _claims.c.outcome_unknown, _claims.c.pauses, _claims.c.external_appointment_id,
           _claims.c.external_claim_id, _claims.c.steps_done,
           Appointment.start.label("appointment_start"), Location.id.label("location_id"),
           Location.name.label("location_name"), Patient.phone, Patient.email, Patient.language)
    .join(Appointment, Appointment.id == _claims.c.appointment_id)
    .join(Slot, Slot.id == Appointment.slot_id)
    .join(Schedule, Schedule.id == Slot.schedule_id)
    .outerjoin(Location, Location.id == Schedule.location_id)
    .join(Patient, Patient.id == _claims.c.patient_id))
_READ_FILING = _READ_CLAIM.where(_claims.c.id == bindparam("claim_id"))
_READ_FILINGS = _READ_CLAIM.where(_claims.c.id.in_(bindparam("claim_ids", expanding=True)))

# An outcome is written only while the row is still this attempt's (a recovered re-run may own it).
_FINISH = update(_claims).where(_claims.c.id == bindparam("claim_id"), _claims.c.status == SUBMITTING,
                                _claims.c.attempts == bindparam("attempt"))
# The common outcome, built once like the others (the rarer ones add their values to _FINISH per call).
_FILED = _FINISH.values(status=FILED, claim_number=bindparam("b_number"), claim_status=bindparam("b_status"),
                        last_error=None, finished_at=bindparam("b_now"), updated_at=bindparam("b_now"),
                        outcome_unknown=False, next_status_check_at=bindparam("b_next_check"),
                        follow_until=bindparam("b_follow_until"))


def _iso_utc(moment: datetime) -> str:
    return moment.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


def _claim_payload(filing: _Filing) -> dict:
    claim, answers = filing.claim, filing.claim.answers
    return {
        "patientId": str(claim.patient_id),
        "appointmentId": str(claim.appointment_id),
        "appointmentDateTime": _iso_utc(filing.appointment_start),
        "facilityId": str(filing.location_id) if filing.location_id is not None else None,
        "facilityName": filing.location_name if filing.location_id is not None else None,
        "mileageOnly": bool(answers.get("mileage_only")),
        "ownVehicle": bool(answers.get("own_vehicle")),
        "fromHomeAddress": bool(answers.get("home_address")),
    }


def _take_for_attempt(claim_id: int) -> bool:
    """Claim the row for one attempt (conditional UPDATE), in the caller's transaction."""
    now = utcnow()
    return db.session.connection().execute(
        _TAKE, {"claim_id": claim_id, "due_by": now + EARLY_START, "now": now}).rowcount == 1


def _read_filing(claim_id: int) -> _Filing:
    row = db.session.connection().execute(_READ_FILING, {"claim_id": claim_id}).one()
    return _Filing(row, row.attempts, row.appointment_start, row.location_id, row.location_name, row.phone,
                   row.email, row.language)


_TAKE_TOGETHER = (update(_claims)
                  .where(_claims.c.id.in_(bindparam("claim_ids", expanding=True)),
                         _claims.c.status.in_((QUEUED, NOT_QUEUED)), _claims.c.next_attempt_at <= bindparam("due_by"))
                  .values(status=SUBMITTING, attempts=_claims.c.attempts + 1, attempt_started_at=bindparam("now"),
                          updated_at=bindparam("now"))
                  .returning(_claims.c.id))
# How many claims of a batch are taken in one transaction. Taken claims wait `submitting` while the ones
# before them are filed: 10 single POSTs (at most two timed-out calls each) stay far inside
# TRAVEL_CLAIM_STUCK_SECONDS, after which the sweep would count them as cut off. Steps (up to six calls
# each) take one at a time.
TAKEN_TOGETHER = 10


def _take_together(claim_ids: list[int], held_texts: list[int] | None) -> dict[int, _Filing]:
    """Take the attempts of those of `claim_ids` that are due and free (one conditional UPDATE, as
    `_take_for_attempt` does for one), read them (one SELECT) and commit: the attempts are ours."""
    now = utcnow()
    connection = db.session.connection()
    taken = connection.execute(_TAKE_TOGETHER, {"claim_ids": claim_ids, "due_by": now + EARLY_START,
                                                "now": now}).scalars().all()
    rows = connection.execute(_READ_FILINGS, {"claim_ids": taken}).all() if taken else []
    db.session.commit()
    return {row.id: _Filing(row, row.attempts, row.appointment_start, row.location_id, row.location_name,
                            row.phone, row.email, row.language, held_texts) for row in rows}


def _finish(filing: _Filing, statement=None, **values) -> bool:
    """Write an attempt's outcome only if the row is still this attempt's (a recovered re-run may own it):
    `statement` with its parameters in `values`, or _FINISH setting `values`."""
    if statement is None:
        statement, values = _FINISH.values(updated_at=utcnow(), **values), {}
    done = db.session.connection().execute(
        statement, {"claim_id": filing.claim.id, "attempt": filing.attempt, **values}).rowcount
    if done != 1:
        db.session.rollback()
    return done == 1


# A batch dispatches its texts together once the oldest held one is this old (and at its end).
TEXTS_HELD_SECONDS = 1.0


class _Shared:
    """What one claim job, or the claims a batch took together, read from Redis in one MGET: the cached
    token and the breaker's state. A batch reads them when it files the first of the claims it took
    together, and again after a system failure (which may have opened the breaker or dropped a refused
    token); a token fetched or a count cleared on the way is kept here, so the next claim does not ask
    again. So a breaker that another worker opened stops this batch at its next claims taken together
    (at most TAKEN_TOGETHER - 1 claims later) unless this batch fails first — those claims were all
    answered meanwhile — instead of at its next claim."""

    def __init__(self):
        self.read()

    def read(self) -> None:
        self.token, self.paused_until, self.failures = redis_client().mget(TOKEN_KEY, breaker.OPEN_KEY,
                                                                           breaker.FAILURES_KEY)
        self.stale = False


def submit_claims(claim_ids: list[int]) -> dict[str, int]:
    """File a batch of claims one after another, each exactly as its own job would (`submit_claim`: the
    attempt taken by a conditional UPDATE, no transaction held while the claims API answers, the outcome
    written only while the row is its attempt's, with its text and audit event in the same commit). A claim
    that raises does not stop the others (one claim that always fails must not hold up the rest of every
    batch it lands in); the first such error is raised at the end, so RQ records the job as failed. Returns
    how many had each outcome.

    The claims are taken TAKEN_TOGETHER at a time (`_take_together`: one conditional UPDATE, one SELECT and
    one commit for them), the token and the breaker's state read once for them (`_Shared`), and their filed
    outcomes written together once the last of them has answered (`_write_filed`: one transaction for their
    UPDATEs, texts and audit events, instead of one each) — the rarer outcomes (rejected, exists, a retry,
    a pause) are written at once, as a claim job writes them. A worker that dies before the filed outcomes
    are written leaves those claims `submitting`: the sweep recovers them with their outcome unknown, and
    their next attempt finds the filing under its Idempotency-Key instead of filing again.

    The texts (committed in the outbox with each outcome) are dispatched together, in one pipeline, at most
    TEXTS_HELD_SECONDS after the first of them and at the end: a pipeline per claim was ~15% of a filing's
    worker CPU. A worker that dies before it dispatches leaves them pending in the outbox, which the outbox's
    sweep sends."""
    outcomes: dict[str, int] = {}
    error, texts, held_since = None, [], None
    together = 1 if in_steps() else TAKEN_TOGETHER
    try:
        for first in range(0, len(claim_ids), together):
            chunk = claim_ids[first:first + together]
            try:
                taken = _take_together(chunk, texts)
            except JobTimeoutException:
                raise
            except Exception as exc:  # noqa: BLE001 — as a claim's error below: the sweep queues them again
                db.session.rollback()
                log.exception("travel claims %s could not be taken in a batch", chunk)
                error, outcomes["error"] = error or exc, outcomes.get("error", 0) + len(chunk)
                continue
            shared, filed = None, []
            for claim_id in chunk:
                try:
                    filing = taken.get(claim_id)
                    if filing is None:
                        outcome = "nothing to do"
                    else:
                        if shared is None:
                            shared = _Shared()
                        elif shared.stale:
                            shared.read()
                        outcome = _submit_taken(filing, shared, filed)
                except JobTimeoutException:
                    raise  # the batch's time is up: the rest stay queued for the sweep
                except Exception as exc:  # noqa: BLE001 — logged, and raised after the rest are filed
                    db.session.rollback()
                    log.exception("travel claim %s failed in a batch", claim_id)
                    error, outcome = error or exc, "error"
                if outcome != "held":
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
            try:
                for outcome, count in _write_filed(filed, texts).items():
                    outcomes[outcome] = outcomes.get(outcome, 0) + count
            except JobTimeoutException:
                raise
            except Exception as exc:  # noqa: BLE001 — the claims stay `submitting`: the sweep recovers them
                db.session.rollback()
                log.exception("travel claims %s were filed but their outcomes not written",
                              [filing.claim.id for filing, _ in filed])
                error, outcomes["error"] = error or exc, outcomes.get("error", 0) + len(filed)
            if texts and held_since is None:
                held_since = time.monotonic()
            if held_since is not None and time.monotonic() - held_since >= TEXTS_HELD_SECONDS:
                outbox.dispatch(texts)
                texts.clear()
                held_since = None
    finally:
        outbox.dispatch(texts)
        try:
            redis_client().hdel(BATCHED_KEY, *claim_ids)
        except redis.RedisError:
            pass  # the sweep clears what a finished batch left
    if error is not None:
        raise error
    return outcomes


def submit_claim(claim_id: int) -> str:
    """File one claim with the claims API; safe to run twice. Returns what happened."""
    shared = _Shared()  # one round trip for the cached token and the breaker's state
    if shared.paused_until:
        return pause_claim(claim_id, breaker.reopens_at(shared.paused_until))
    if not _take_for_attempt(claim_id):
        db.session.rollback()
        return "nothing to do"
    filing = _read_filing(claim_id)
    db.session.commit()  # the attempt is ours; no transaction is held while the claims API answers
    return _file_taken(filing, shared)


def _submit_taken(filing: _Filing, shared: _Shared, filed: list) -> str:
    """File a claim `_take_together` took; a filed one is appended to `filed` ("held") for `_write_filed`.
    The breaker may have opened since: then the attempt is given back unused and waits for the breaker like
    any paused claim."""
    if not shared.paused_until:
        return _file_taken(filing, shared, filed)
    until, pauses = breaker.reopens_at(shared.paused_until) or utcnow(), filing.claim.pauses + 1
    if not _finish(filing, status=QUEUED, attempts=filing.attempt - 1, pauses=pauses, next_attempt_at=until):
        return "superseded"
    db.session.commit()
    enqueue_claim(filing.claim.id, filing.attempt, until, pauses=pauses)
    return "paused"


def _file_taken(filing: _Filing, shared: _Shared, filed: list | None = None) -> str:
    """File an attempt that is ours (taken and committed), and write its outcome — or, with `filed`, append
    a filed claim there for `_write_filed` and return "held"."""
    try:
        shared.token = access_token(shared.token)
        answer = _file(filing, shared.token)
    except _Superseded:
        return "superseded"
    except ClaimAlreadyExists as exc:
        return _exists(filing, exc.detail)
    except ClaimRejected as exc:
        return _rejected(filing, exc.code, exc.detail)
    except ClaimsApiUnavailable as exc:
        if isinstance(exc, TokenRejected):
            redis_client().delete(TOKEN_KEY)
        breaker.record_failure()
        shared.stale = True  # the next claim reads the breaker's state (and the token) again
        return _system_error(filing, str(exc), outcome_unknown=isinstance(exc, ClaimOutcomeUnknown))
    if shared.failures:
        breaker.record_success()
        shared.failures = None
    if filed is not None:
        filed.append((filing, answer))
        return "held"
    if not _finish(filing, _FILED, **_filed_values(filing, answer, utcnow())):
        return "superseded"
    return _tell_patient(filing, "travel_claim.filed", _filed_text(filing, answer), "filed", attempt=filing.attempt)


def _filed_values(filing: _Filing, answer: FiledClaim, now: datetime) -> dict:
    """_FILED's parameters for one claim."""
    cfg = current_app.config
    return {"claim_id": filing.claim.id, "attempt": filing.attempt, "b_number": answer.claim_number,
            "b_status": answer.status, "b_now": now,
            "b_next_check": now + timedelta(seconds=cfg["TRAVEL_CLAIM_STATUS_EVERY_SECONDS"]),
            "b_follow_until": now + timedelta(hours=cfg["TRAVEL_CLAIM_FOLLOW_HOURS"])}


def _filed_text(filing: _Filing, answer: FiledClaim) -> str:
    with speaking(filing.language):
        return _("Your travel claim for your appointment on %(day)s is filed. Claim number %(number)s. "
                 "We will text you when it is decided. Follow it up at %(url)s",
                 day=_day(filing), number=answer.claim_number, url=claims_portal_url())


def _write_filed(filed: list[tuple[_Filing, FiledClaim]], texts: list[int]) -> dict[str, int]:
    """The filed outcomes of claims taken together, in one transaction: their UPDATEs (one executemany),
    their texts (one INSERT) and their audit events (chained once, one INSERT) — each claim's outcome, text
    and event still in one commit. Their texts' ids go to `texts` for the batch's dispatch. Every UPDATE
    must have found its row still this attempt's; if one did not (a recovered re-run took the claim
    meanwhile: rare), that transaction is rolled back and each is written by itself, as a claim job would."""
    if not filed:
        return {}
    now, connection = utcnow(), db.session.connection()
    if len(filed) > 1 and connection.dialect.supports_sane_multi_rowcount:
        rows = [_filed_values(filing, answer, now) for filing, answer in filed]
        if connection.execute(_FILED, rows).rowcount == len(rows):
            messages, events = [], []
            for filing, answer in filed:
                messages += _messages(filing, "travel_claim.filed", _filed_text(filing, answer))
                events.append(audit.pending("travel_claim.filed", subject=("TravelClaim", filing.claim.id),
                                            patient_id=filing.claim.patient_id, attempt=filing.attempt))
            texts.extend(outbox.add_messages(messages))
            audit.commit_with(events)
            return {"filed": len(filed)}
        db.session.rollback()
    outcomes: dict[str, int] = {}
    for filing, answer in filed:
        if _finish(filing, _FILED, **_filed_values(filing, answer, now)):
            outcome = _tell_patient(filing, "travel_claim.filed", _filed_text(filing, answer), "filed",
                                    attempt=filing.attempt)
        else:
            outcome = "superseded"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _file(filing: _Filing, token: str) -> FiledClaim:
    """File with the configured adapter. After a timeout (outcome unknown) the claims system is asked
    first whether it has the claim, and nothing is filed again when it does."""
    claim = filing.claim
    if in_steps():
        return file_in_steps(btsss_client(), token, step_filing(filing.claim, filing.appointment_start,
                                                                filing.location_id), _progress_recorder(filing))
    client = _claims_client()
    if claim.outcome_unknown:
        found = client.find(token, claim.idempotency_key)
        if found is not None:
            return found
    return client.submit(token, claim.idempotency_key, _claim_payload(filing))


def step_filing(claim: "TravelClaim | Row", appointment_start: datetime, location_id: int | None) -> StepFiling:
    """What the step adapter needs from a claim (also for following a claim filed in steps)."""
    return StepFiling(claim_id=claim.id, patient_ref=str(claim.patient_id),
                      appointment_time=_iso_utc(appointment_start),
                      facility=str(location_id) if location_id is not None else "",
                      date_incurred=claim.appointment_date.isoformat(), outcome_unknown=claim.outcome_unknown,
                      external_appointment_id=claim.external_appointment_id,
                      external_claim_id=claim.external_claim_id, steps_done=claim.steps_done)


class _Superseded(Exception):
    """The claim is no longer this attempt's (a recovered re-run took it): stop without writing."""


def _progress_recorder(filing: _Filing):
    """What the step adapter calls after each step: the progress is this attempt's, committed at once."""
    def record(**values) -> None:
        if not _finish(filing, **values):
            raise _Superseded()
        db.session.commit()
    return record


def pause_claim(claim_id: int, until: datetime | None) -> str:
    """The breaker is open: the claim waits until it reopens, under a new job id, without using an attempt."""
    until = until or utcnow()
    row = db.session.execute(
        update(_claims).where(_claims.c.id == claim_id, _claims.c.status.in_((QUEUED, NOT_QUEUED)))
        .values(pauses=_claims.c.pauses + 1, next_attempt_at=until, updated_at=utcnow())
        .returning(_claims.c.attempts, _claims.c.pauses)).first()
    db.session.commit()
    if row is None:
        return "nothing to do"
    enqueue_claim(claim_id, row.attempts + 1, until, pauses=row.pauses)
    return "paused"


def _exists(filing: _Filing, detail: str | None) -> str:
    """The claims system already has a claim for this appointment: not filed again; the patient is told
    how to see its status (its own message, not the generic failure)."""
    if not _finish(filing, status=EXISTS, last_error="claims API: a claim for this appointment already exists"
                   + (f" ({detail})" if detail else ""), finished_at=utcnow(), outcome_unknown=False):
        return "superseded"
    with speaking(filing.language):
        text = _("The claims system already has a travel claim for your appointment on %(day)s, so we did not "
                 "file another. You can check its status online 24/7 at %(url)s", day=_day(filing),
                 url=claims_portal_url())
    return _tell_patient(filing, "travel_claim.exists", text, "exists", attempt=filing.attempt)


def _rejected(filing: _Filing, code: str, detail: str | None = None) -> str:
    if not _finish(filing, status=REJECTED, last_error=f"claims API refused the claim: {code}"
                   + (f" ({detail})" if detail else ""), finished_at=utcnow(), outcome_unknown=False):
        return "superseded"
    with speaking(filing.language):
        reason = REJECTION_REASONS.get(code, REJECTION_REASONS["invalid_claim"])
        text = _("We could not file your travel claim for your appointment on %(day)s: %(reason)s. "
                 "You can file or follow up at %(url)s", day=_day(filing), reason=reason, url=claims_portal_url())
    return _tell_patient(filing, "travel_claim.rejected", text, "rejected", attempt=filing.attempt, code=code)


def _system_error(filing: _Filing, error: str, outcome_unknown: bool = False) -> str:
    claim, attempt = filing.claim, filing.attempt
    # Once unknown, the outcome stays unknown until the claims system has been asked.
    unknown = outcome_unknown or claim.outcome_unknown
    if attempt >= claim.max_attempts:
        if not _finish(filing, status=FAILED, last_error=error, finished_at=utcnow(), outcome_unknown=unknown):
            return "superseded"
        with speaking(filing.language):
            text = _("We could not file your travel claim for your appointment on %(day)s: the claims system "
                     "did not answer after %(attempts)s attempts. The clinic has been told. "
                     "You can file it yourself at %(url)s", day=_day(filing), attempts=attempt, url=claims_portal_url())
        return _tell_patient(filing, "travel_claim.failed", text, "failed", attempt=attempt)
    retry_at = utcnow() + timedelta(hours=current_app.config["TRAVEL_CLAIM_RETRY_HOURS"])
    if not _finish(filing, status=QUEUED, last_error=error, next_attempt_at=retry_at, outcome_unknown=unknown):
        return "superseded"
    db.session.commit()
    log.warning("travel claim %s attempt %s failed (%s); next at %s", claim.id, attempt, error, retry_at)
    enqueue_claim(claim.id, attempt + 1, retry_at, pauses=claim.pauses)  # Redis down: the sweep finds it
    return "retry scheduled"


def _day(filing: _Filing) -> str:
    return day(filing.day, form="medium")


def _messages(filing: _Filing, kind: str, text: str) -> list[dict]:
    """The outcome's SMS (e-mail when the patient has no phone; nothing without either), for
    `outbox.add_messages`."""
    if filing.phone:
        return [{"channel": "sms", "to": filing.phone, "text": text, "kind": kind,
                 "patient_id": filing.claim.patient_id}]
    if filing.email:
        with speaking(filing.language):
            subject = _("Your travel claim")
        return [{"channel": "email", "to": filing.email, "subject": subject, "text": text, "kind": kind,
                 "patient_id": filing.claim.patient_id}]
    return []


def _tell_patient(filing: _Filing, kind: str, text: str, outcome: str, **details) -> str:
    """The outcome's SMS (e-mail when the patient has no phone) and audit event, in one commit.

    Both are Core INSERTs (the event chained as every event is): the outcome was written with an UPDATE,
    so the ORM's unit of work had nothing else to do but cost a flush per claim."""
    queued = outbox.add_messages(_messages(filing, kind, text))
    audit.record_and_commit(f"travel_claim.{outcome}", subject=("TravelClaim", filing.claim.id),
                            patient_id=filing.claim.patient_id, **details)
    if filing.held_texts is not None:
        filing.held_texts.extend(queued)
    else:
        outbox.dispatch(queued)
    return outcome


# --- the sweep and staff -------------------------------------------------------------------------

def _recover_stuck(stuck_after_seconds: int) -> int:
    """Claims left `submitting` by a worker that died (kill -9) go back to the queue, due now."""
    cutoff = utcnow() - timedelta(seconds=stuck_after_seconds)
    stuck = db.session.execute(select(TravelClaim.id, TravelClaim.attempts).where(
        TravelClaim.status == SUBMITTING, TravelClaim.attempt_started_at < cutoff).limit(1000)).all()
    recovered = 0
    for claim_id, attempts in stuck:
        recovered += db.session.execute(
            update(TravelClaim).where(TravelClaim.id == claim_id, TravelClaim.status == SUBMITTING,
                                      TravelClaim.attempts == attempts)
            .values(status=QUEUED, next_attempt_at=utcnow(), updated_at=utcnow(), outcome_unknown=True,
                    last_error=f"attempt {attempts} was cut off (its worker stopped); tried again")
        ).rowcount
    db.session.commit()
    return recovered


def sweep_travel_claims(stuck_after_seconds: int | None = None, batch: int = 5000) -> dict:
    """Recover stuck claims, then queue every claim no job holds: `not_queued` ones (Redis was down)
    and due `queued` ones whose job was lost. Returns counts."""
    if stuck_after_seconds is None:
        stuck_after_seconds = current_app.config["TRAVEL_CLAIM_STUCK_SECONDS"]
    recovered = _recover_stuck(stuck_after_seconds)
    rows = db.session.execute(
        select(TravelClaim.id, TravelClaim.attempts, TravelClaim.pauses, TravelClaim.next_attempt_at).where(or_(
            TravelClaim.status == NOT_QUEUED,
            (TravelClaim.status == QUEUED) & (TravelClaim.next_attempt_at <= utcnow())))
        .order_by(TravelClaim.next_attempt_at).limit(batch)).all()
    db.session.commit()
    try:
        live = _live_jobs([job_id(cid, attempts + 1, pauses) for cid, attempts, pauses, _ in rows])
    except redis.RedisError:
        return {"recovered": recovered, "queued": 0}
    queued, due_now, now = 0, [], utcnow()
    batch_size = current_app.config["TRAVEL_CLAIM_BATCH_SIZE"]
    for claim_id, attempts, pauses, due in rows:
        jid = job_id(claim_id, attempts + 1, pauses)
        if jid in live:
            continue
        if batch_size > 1 and due <= now:
            due_now.append((claim_id, jid))
        elif enqueue_claim(claim_id, attempts + 1, due, pauses):
            queued += 1
    # Due claims that no job holds are a backlog (Redis or the workers were down, a breaker pause ended, a
    # bulk import): one job per `batch_size` of them instead of one each, in the order they fell due.
    for first in range(0, len(due_now), batch_size):
        batch = due_now[first:first + batch_size]
        if enqueue_batch(batch):
            queued += len(batch)
    return {"recovered": recovered, "queued": queued}


def resubmit_failed(claim_id: int, *, actor: tuple[str, str | None]) -> bool:
    """Staff try a failed claim again: it gets another round of attempts, due now."""
    claim = db.session.get(TravelClaim, claim_id)
    if claim is None:
        return False
    changed = db.session.execute(
        update(TravelClaim).where(TravelClaim.id == claim_id, TravelClaim.status == FAILED)
        .values(status=QUEUED, next_attempt_at=utcnow(), updated_at=utcnow(), finished_at=None,
                max_attempts=TravelClaim.attempts + current_app.config["TRAVEL_CLAIM_MAX_ATTEMPTS"])
    ).rowcount
    if changed != 1:
        db.session.rollback()
        return False
    audit.record("travel_claim.resubmitted", subject=claim, patient_id=claim.patient_id, actor=actor)
    db.session.commit()
    db.session.refresh(claim)
    enqueue_claim(claim.id, claim.attempts + 1, claim.next_attempt_at, claim.pauses)
    return True


def list_claims(status: str | None = None, limit: int = 200) -> list[TravelClaim]:
    query = select(TravelClaim).order_by(TravelClaim.id.desc()).limit(limit)
    if status:
        query = query.where(TravelClaim.status == status)
    return list(db.session.scalars(query))


def get_claim(claim_id: int) -> TravelClaim | None:
    return db.session.get(TravelClaim, claim_id)


def claim_for_appointment(appointment_id: int) -> TravelClaim | None:
    return db.session.scalar(select(TravelClaim).where(TravelClaim.appointment_id == appointment_id))
