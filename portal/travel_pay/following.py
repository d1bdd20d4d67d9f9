"""Following filed claims to their decision (as vets-api's travel-claim status job does, but until decided).

A filed claim carries `next_status_check_at` (TRAVEL_CLAIM_STATUS_EVERY_SECONDS after filing) and
`follow_until` (TRAVEL_CLAIM_FOLLOW_HOURS after filing). The follower job (every
TRAVEL_CLAIM_STATUS_SWEEP_SECONDS, on the claims queue) asks the claims system the status of every claim
that is due, in batches, and writes it:

- a decision (approved for payment, denied, on hold, …: models.DECISIONS) makes the claim `decided` and
  texts the patient with the claim number's last four digits, through the outbox, in the same commit as
  the change and its audit event — the conditional UPDATE (`WHERE status = 'filed'`) lets one run only
  tell the patient, however many followers overlap;
- any other status is stored and asked again later; after `follow_until` the claim is no longer followed
  (staff see its last status and when it was asked);
- a claim the answer left out is asked again at the next interval; a call that failed (answered for no
  claim) counts for the breaker, and a call that answered starts its count again, call by call, so
  failures spread over a batch with answers between them are not "in a row". While the breaker is open
  the follower does not call out at all.

Batches of one transaction each: one commit for up to `batch` claims, and the outcome texts of a batch
are dispatched in one pipelined round trip. Claims filed with the single POST are asked STATUS_BATCH at a
time (one request for 100 claims instead of 100 requests: per claim, the request cost the worker and the
claims system more than everything else the follower does); claims filed in steps one by one, by claim id,
as the VA's API asks. The undecided claims of a batch are written with one executemany, and so are its
decisions when no overlapping run decided one of them first.
"""

import logging
import time
from datetime import timedelta

import redis
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, select, update

from portal.extensions import db, redis_client
from portal.i18n import formatting
from portal.i18n.languages import speaking
from portal.notifications import services as outbox
from portal.patients.models import Patient
from portal.scheduling.models import Appointment, Location, Schedule, Slot
from portal.security import audit
from portal.security.models import utcnow
from portal.travel_pay import breaker, services
from portal.travel_pay.clients import STATUS_BATCH, ClaimsApiUnavailable, TokenRejected
from portal.travel_pay.models import DECIDED, DECISIONS, FILED, TravelClaim, claim_status_label
from portal.travel_pay.steps import claim_status_in_steps

log = logging.getLogger(__name__)

_claims = TravelClaim.__table__

_DUE = (
    select(TravelClaim, Appointment.start, Location.id, Patient.phone, Patient.email, Patient.language)
    .join(Appointment, Appointment.id == TravelClaim.appointment_id)
    .join(Slot, Slot.id == Appointment.slot_id)
    .join(Schedule, Schedule.id == Slot.schedule_id)
    .outerjoin(Location, Location.id == Schedule.location_id)
    .join(Patient, Patient.id == TravelClaim.patient_id)
    .where(TravelClaim.status == FILED, TravelClaim.next_status_check_at <= bindparam("now"))
    .order_by(TravelClaim.next_status_check_at)
    .limit(bindparam("batch"))
    .execution_options(populate_existing=True))

# Each write only while the claim is still filed (a decision seen by an overlapping run stands). Built once,
# with bindparams: a batch runs them for every claim.
_STILL_FILED = (_claims.c.id == bindparam("claim_id")) & (_claims.c.status == FILED)
_DECIDE = update(_claims).where(_STILL_FILED).values(
    status=DECIDED, claim_status=bindparam("b_status"), decided_at=bindparam("b_now"),
    status_checked_at=bindparam("b_now"), next_status_check_at=None, updated_at=bindparam("b_now"))
_CHECKED = update(_claims).where(_STILL_FILED).values(
    claim_status=bindparam("b_status"), status_checked_at=bindparam("b_now"), updated_at=bindparam("b_now"),
    next_status_check_at=bindparam("b_next"))
_ASK_AGAIN = update(_claims).where(_STILL_FILED).values(next_status_check_at=bindparam("b_next"),
                                                        updated_at=bindparam("b_now"))


def follow_claims(batch: int = 500, budget_seconds: float = 60) -> dict:
    """Ask the status of every filed claim that is due; returns counts. Runs batches until none is due,
    the breaker opens, or `budget_seconds` have passed (the next run goes on)."""
    counts = {"checked": 0, "decided": 0, "stopped": 0, "failed": 0, "paused": False}
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        # One round trip for the breaker's state and the cached token, as the filing job reads them.
        try:
            token, paused_until, failures = redis_client().mget(services.TOKEN_KEY, breaker.OPEN_KEY,
                                                                breaker.FAILURES_KEY)
        except redis.RedisError:  # without Redis the breaker stays closed
            token, paused_until, failures = None, None, None
        if breaker.reopens_at(paused_until) is not None:
            counts["paused"] = True
            break
        rows = db.session.execute(_DUE, {"now": utcnow(), "batch": batch}).all()
        if not rows:
            db.session.commit()
            break
        for row in rows:
            db.session.expunge(row[0])
        db.session.commit()  # the read is done: no transaction (on SQLite, the write lock) waits on the claims API
        done = _follow_batch(rows, counts, token, failures=int(failures or 0))
        if not done or len(rows) < batch:
            break
    return counts


def _follow_batch(rows, counts: dict, cached_token: bytes | None, failures: int) -> bool:
    """One batch: ask (no transaction open), then write in one transaction; False when the breaker opened on
    the way (the rest waits). `failures` is the breaker's count when the batch began: a success clears it
    only when there is one."""
    cfg = current_app.config
    every = timedelta(seconds=cfg["TRAVEL_CLAIM_STATUS_EVERY_SECONDS"])
    try:
        token = services.access_token(cached_token)
    except ClaimsApiUnavailable:  # the token service is down: this run stops, the claims stay due
        counts["failed"] += 1
        breaker.record_failure()
        return False
    answers, opened = [], False
    for group in _groups(rows):
        if opened:
            break
        now = utcnow()
        try:
            statuses = _statuses(group, token)
        except ClaimsApiUnavailable as exc:
            if isinstance(exc, TokenRejected):
                redis_client().delete(services.TOKEN_KEY)
            statuses = {}
        answers.append((group, statuses, now))
        # The breaker counts calls in a row, call by call (a batch makes many): one that answered for any claim
        # starts the count again, one that answered for none adds a failure.
        if statuses:
            if failures:
                breaker.record_success()
                failures = 0
        elif any(row[0].id not in statuses for row in group):
            opened = breaker.record_failure()
            failures += 1
    _write_answers(answers, counts, every)
    return not opened


def _write_answers(answers, counts: dict, every: timedelta) -> None:
    """What the claims system answered, in one transaction: the decisions (`_decide`: only the run whose
    UPDATE changed a claim texts the patient, with its audit event), the undecided and the unanswered with
    one executemany each."""
    decisions, checked, ask_again = [], [], []
    for group, statuses, now in answers:
        for row in group:
            claim = row[0]
            status = statuses.get(claim.id)
            if status is None:  # the call failed, or left this one out: asked again later
                counts["failed"] += 1
                ask_again.append({"claim_id": claim.id, "b_next": now + every, "b_now": now})
                continue
            counts["checked"] += 1
            if status in DECISIONS:
                decisions.append((row, status, now))
                continue
            stop = claim.follow_until is not None and now >= claim.follow_until
            counts["stopped"] += stop
            checked.append({"claim_id": claim.id, "b_status": status, "b_now": now,
                            "b_next": None if stop else now + every})
    told, events = [], []
    for (claim, _start, _location, phone, email, language), status, _now in _decide(decisions):
        counts["decided"] += 1
        with speaking(language):  # the patient's, in the worker
            told += _decision_message(claim, status, phone, email)
        events.append(audit.pending("travel_claim.decided", subject=("TravelClaim", claim.id),
                                    patient_id=claim.patient_id, claim_status=status))
    connection = db.session.connection()
    if checked:
        connection.execute(_CHECKED, checked)
    if ask_again:
        connection.execute(_ASK_AGAIN, ask_again)
    texts = outbox.add_messages(told)  # the decisions' texts in one INSERT
    audit.commit_with(events)
    outbox.dispatch(texts)


def _decide(decisions: list) -> list:
    """Write the decisions, first in the batch's transaction, and return those this run made: a claim is
    decided only while it is still filed (a decision an overlapping run wrote first stands, and only that
    run texts the patient). One executemany when it changed every claim — the usual case; else (an
    overlapping run decided some) it is rolled back and each is written by itself, to learn which."""
    if not decisions:
        return []
    connection = db.session.connection()
    if len(decisions) > 1 and connection.dialect.supports_sane_multi_rowcount:
        rows = [{"claim_id": row[0].id, "b_status": status, "b_now": now} for row, status, now in decisions]
        if connection.execute(_DECIDE, rows).rowcount == len(rows):
            return decisions
        db.session.rollback()
        connection = db.session.connection()
    return [(row, status, now) for row, status, now in decisions
            if connection.execute(_DECIDE, {"claim_id": row[0].id, "b_status": status, "b_now": now}).rowcount]


def _groups(rows):
    """The due claims in the groups they are asked in: one by one when filed in steps (the VA's API asks
    by claim id), up to STATUS_BATCH at a time when filed with the single POST."""
    single = []
    for row in rows:
        if row[0].external_claim_id:
            yield [row]
        else:
            single.append(row)
    for first in range(0, len(single), STATUS_BATCH):
        yield single[first:first + STATUS_BATCH]


def _statuses(group, token: str) -> dict[int, str]:
    """The claims system's status of each claim in a group, by claim id (a claim it did not answer for
    is left out), asked the way the claims were filed."""
    claim, start, location_id = group[0][:3]
    if claim.external_claim_id:
        return {claim.id: claim_status_in_steps(services.btsss_client(), token,
                                                services.step_filing(claim, start, location_id))}
    found = services._claims_client().statuses(token, [row[0].claim_number for row in group if row[0].claim_number])
    return {row[0].id: found[row[0].claim_number] for row in group if row[0].claim_number in found}


def decision_text(claim: TravelClaim, status: str) -> str:
    return _("Your travel claim ending %(last4)s for your appointment on %(day)s has a decision: %(decision)s. "
             "See the details at %(url)s", last4=(claim.claim_number or "")[-4:],
             day=formatting.day(claim.appointment_date, form="medium"), decision=claim_status_label(status),
             url=services.claims_portal_url())


def _decision_message(claim: TravelClaim, status: str, phone: str | None, email: str | None) -> list[dict]:
    """The decision's SMS (e-mail without a phone), for `outbox.add_messages` in the batch's transaction."""
    text = decision_text(claim, status)
    if phone:
        return [{"channel": "sms", "to": phone, "text": text, "kind": "travel_claim.decided",
                 "patient_id": claim.patient_id}]
    if email:
        return [{"channel": "email", "to": email, "subject": _("Your travel claim"), "text": text,
                 "kind": "travel_claim.decided", "patient_id": claim.patient_id}]
    return []
