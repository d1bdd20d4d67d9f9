"""The outbox: queue a message with the change it reports, send it from a job, retry, sweep.

A message is written in the caller's transaction, so it exists exactly when the change does.
After the commit `dispatch` hands it to the "notifications" RQ queue; when Redis is down the
row simply stays pending and `sweep_pending` (run by every worker at start and by
`flask sweep-notifications`) enqueues it later. Sending is never done inside a web request.
"""

import logging
import uuid
from datetime import timedelta

import redis
from flask import current_app
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException
from sqlalchemy import insert, select, update

from portal.extensions import db, redis_client
from portal.notifications.clients import MailClient, NotifySmsClient, SendFailed, SmsGatewayClient, TwilioSmsClient
from portal.notifications.models import FAILED, PENDING, SENT, Notification
from portal.security.models import utcnow

log = logging.getLogger(__name__)

QUEUE_NAME = "notifications"
MAX_ATTEMPTS = 4
RETRY_INTERVALS = [10, 60, 300]  # seconds before the 2nd, 3rd and 4th attempt


def queue_sms(*, to: str, text: str, kind: str, patient_id: int | None = None,
              consultation_id: int | None = None) -> Notification:
    """Add an SMS to the outbox in the caller's transaction; `dispatch` it after the commit."""
    notification = Notification(channel="sms", kind=kind, recipient=to, body=text, patient_id=patient_id,
                                consultation_id=consultation_id)
    db.session.add(notification)
    return notification


def queue_email(*, to: str, subject: str, text: str, kind: str, patient_id: int | None = None,
                consultation_id: int | None = None) -> Notification:
    notification = Notification(channel="email", kind=kind, recipient=to, subject=subject, body=text,
                                patient_id=patient_id, consultation_id=consultation_id)
    db.session.add(notification)
    return notification


_INSERT = insert(Notification.__table__).returning(Notification.__table__.c.id)


def add_messages(messages: list[dict]) -> list[int]:
    """`queue_sms`/`queue_email` for a hot path: the messages (each a dict of channel, to, text, kind and
    optionally subject and patient_id) in one INSERT … RETURNING, in the caller's transaction, without ORM
    instances or a flush of the session (a job that writes nothing else through the ORM). Returns their ids
    for `dispatch` after the commit."""
    if not messages:
        return []
    rows = [{"channel": m["channel"], "kind": m["kind"], "recipient": m["to"], "subject": m.get("subject"),
             "body": m["text"], "patient_id": m.get("patient_id")} for m in messages]
    # Through the session's connection: Session.execute's ORM dispatch costs more than the INSERT itself.
    return list(db.session.connection().execute(_INSERT, rows).scalars())


def _queue() -> Queue:
    return Queue(QUEUE_NAME, connection=redis_client())


def _job_id(notification_id: int) -> str:
    return f"notification-{notification_id}"


SEND_JOB = "portal.notifications.jobs.send_notification"
BATCH_JOB = "portal.notifications.jobs.send_notifications"
# Which batch job holds a message: message id → the batch's job id (written with the batch, cleared by it).
BATCHED_KEY = "notifications:batched"
BATCH_SIZE = 50  # messages per batch job: one worker sends them in turn


def dispatch(notifications) -> None:
    """Enqueue committed notifications (or their ids). Never raises: a Redis outage leaves them for the sweep.

    One message gets a job of its own; more go to jobs of up to BATCH_SIZE (`send_batch`), recorded in
    BATCHED_KEY so that the sweep counts them as held. All in one pipelined transaction: building and saving
    an RQ job per message was a sixth of a filed travel claim's worker CPU, and as much again per decision.
    """
    if not notifications:
        return
    ids = [getattr(notification, "id", notification) for notification in notifications]
    queue = _queue()
    try:
        with redis_client().pipeline() as pipe:
            if len(ids) == 1:
                _enqueue_one(queue, ids[0], pipe)
            for first in range(0, len(ids) if len(ids) > 1 else 0, BATCH_SIZE):
                batch = ids[first:first + BATCH_SIZE]
                batch_id = f"notifications-batch-{uuid.uuid4().hex}"
                queue.enqueue(BATCH_JOB, batch, job_id=batch_id, pipeline=pipe,
                              job_timeout=int(current_app.config["EXTERNAL_TIMEOUT_SECONDS"] * 3 * len(batch)) + 60)
                pipe.hset(BATCHED_KEY, mapping={str(notification_id): batch_id for notification_id in batch})
            pipe.execute()
    except redis.RedisError:
        log.warning("could not enqueue notifications %s; the sweep will send them", ids)


def _enqueue_one(queue: Queue, notification_id: int, pipe=None, after: timedelta | None = None,
                 attempts_made: int = 0) -> None:
    retry = Retry(max=MAX_ATTEMPTS - 1 - attempts_made, interval=RETRY_INTERVALS[attempts_made:])
    if after is None:
        queue.enqueue(SEND_JOB, notification_id, job_id=_job_id(notification_id), pipeline=pipe, retry=retry)
    else:
        queue.enqueue_in(after, SEND_JOB, notification_id, job_id=_job_id(notification_id), retry=retry)


def send_batch(notification_ids: list[int]) -> dict[str, int]:
    """Send a batch's messages one after another (`deliver`). A message whose send failed is retried by a job
    of its own, on the schedule it would have had alone; one that raised otherwise stays pending for the
    sweep. The first such error is raised at the end, so RQ records the job as failed."""
    outcomes: dict[str, int] = {}
    error = None
    try:
        for notification_id in notification_ids:
            try:
                outcome = deliver(notification_id)
            except SendFailed:
                _enqueue_one(_queue(), notification_id, after=timedelta(seconds=RETRY_INTERVALS[0]), attempts_made=1)
                outcome = "retry scheduled"
            except JobTimeoutException:
                raise
            except Exception as exc:  # noqa: BLE001 — logged, raised after the rest are sent
                db.session.rollback()
                log.exception("notification %s failed in a batch", notification_id)
                error, outcome = error or exc, "error"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        try:
            redis_client().hdel(BATCHED_KEY, *notification_ids)
        except redis.RedisError:
            pass  # the sweep clears what a finished batch left
    if error is not None:
        raise error
    return outcomes


_LIVE = ("queued", "scheduled", "started", "deferred")


def _already_enqueued(notification_id: int) -> bool:
    """A job of its own, or a waiting or running batch job, holds the message."""
    for held_by in (_job_id(notification_id), redis_client().hget(BATCHED_KEY, str(notification_id))):
        if not held_by:
            continue
        try:
            job = Job.fetch(held_by.decode() if isinstance(held_by, bytes) else held_by, connection=redis_client())
        except NoSuchJobError:
            continue
        if job.get_status(refresh=False) in _LIVE:
            return True
    redis_client().hdel(BATCHED_KEY, str(notification_id))  # a batch that died without clearing it
    return False


def sweep_pending(older_than_seconds: int = 30) -> int:
    """Enqueue pending notifications that no job holds (e.g. Redis was down). Returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    pending = db.session.scalars(
        select(Notification).where(Notification.status == PENDING, Notification.created_at <= cutoff)
        .order_by(Notification.id).limit(1000)
    ).all()
    db.session.commit()
    lost = [n for n in pending if not _already_enqueued(n.id)]
    dispatch(lost)
    return len(lost)


NOTIFY_URL = "https://api.notifications.service.gov.uk"
TWILIO_URL = "https://api.twilio.com"


def _sms_client():
    """The SMS provider chosen by SMS_PROVIDER. Without a base URL, production talks to the provider
    and development to the sandbox, which plays each provider's API."""
    cfg = current_app.config
    timeout, production = cfg["EXTERNAL_TIMEOUT_SECONDS"], cfg.get("PORTAL_ENV") == "production"
    if cfg["SMS_PROVIDER"] == "notify":
        return NotifySmsClient(cfg["NOTIFY_API_KEY"], cfg["NOTIFY_SMS_TEMPLATE_ID"],
                               cfg["NOTIFY_BASE_URL"] or (NOTIFY_URL if production else cfg["SANDBOX_URL"]), timeout)
    if cfg["SMS_PROVIDER"] == "twilio":
        base_url = cfg["TWILIO_BASE_URL"] or (TWILIO_URL if production else f"{cfg['SANDBOX_URL']}/twilio")
        return TwilioSmsClient(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"], base_url, timeout,
                               from_number=cfg["TWILIO_FROM"],
                               messaging_service_sid=cfg["TWILIO_MESSAGING_SERVICE_SID"])
    return SmsGatewayClient(cfg["SMS_GATEWAY_URL"] or cfg["SANDBOX_URL"], cfg["SMS_API_KEY"], timeout)


def _client_for(notification: Notification):
    cfg = current_app.config
    if notification.channel == "sms":
        return _sms_client()
    return MailClient(cfg["SMTP_HOST"], cfg["SMTP_PORT"], cfg["MAIL_FROM"], cfg["EXTERNAL_TIMEOUT_SECONDS"],
                      security=cfg["SMTP_SECURITY"], username=cfg["SMTP_USERNAME"], password=cfg["SMTP_PASSWORD"],
                      ca_file=cfg["SMTP_CA_FILE"])


def deliver(notification_id: int) -> str:
    """Send one notification; safe to run twice. Raises SendFailed while attempts remain."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.status != PENDING:
        return "nothing to do"
    db.session.commit()  # end the read; the send below must not hold a write lock
    try:
        if notification.channel == "sms":
            _client_for(notification).send(notification.recipient, notification.body)
        else:
            _client_for(notification).send(notification.recipient, notification.subject or "", notification.body)
    except SendFailed as exc:
        attempts = notification.attempts + 1
        give_up = attempts >= MAX_ATTEMPTS
        db.session.execute(
            update(Notification).where(Notification.id == notification_id, Notification.status == PENDING)
            .values(attempts=attempts, last_error=str(exc)[:500], last_attempt_at=utcnow(),
                    status=FAILED if give_up else PENDING)
        )
        db.session.commit()
        log.warning("notification %s attempt %s failed: %s", notification_id, attempts, exc)
        if give_up:
            return "failed"
        raise
    db.session.execute(
        update(Notification).where(Notification.id == notification_id)
        .values(status=SENT, attempts=Notification.attempts + 1, sent_at=utcnow(), last_attempt_at=utcnow(),
                last_error=None)
    )
    db.session.commit()
    return "sent"


def retry_failed(notification_id: int) -> bool:
    """Staff asked to try a failed message again."""
    changed = db.session.execute(
        update(Notification).where(Notification.id == notification_id, Notification.status == FAILED)
        .values(status=PENDING, attempts=0)
    ).rowcount
    db.session.commit()
    if changed:
        dispatch([db.session.get(Notification, notification_id)])
    return bool(changed)


def recent_notifications(status: str | None = None, limit: int = 100) -> list[Notification]:
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if status:
        query = query.where(Notification.status == status)
    return list(db.session.scalars(query))
