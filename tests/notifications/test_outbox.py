"""The notifications outbox: sent by an RQ job to the sandbox SMS gateway and mail catcher,
retried when they fail, visible to staff, and never lost when Redis is down."""

import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from portal.extensions import db, redis_client
from portal.notifications import services
from portal.notifications.models import Notification
from tests.conftest import make_patient, run_notification_jobs


def queue_both(app):
    pid = make_patient(app)
    with app.app_context():
        sms = services.queue_sms(to="+4791234567", text="Your link: http://x/c/abc", kind="test", patient_id=pid)
        mail = services.queue_email(to="line@example.com", subject="Hello", text="Your link: http://x/c/abc",
                                    kind="test", patient_id=pid)
        db.session.commit()
        services.dispatch([sms, mail])
        return sms.id, mail.id


def statuses(app):
    with app.app_context():
        return {n.channel: (n.status, n.attempts, n.last_error) for n in db.session.scalars(select(Notification))}


def wait_for(predicate, seconds=5):
    deadline = time.time() + seconds
    while time.time() < deadline and not predicate():
        time.sleep(0.05)
    return predicate()


def test_sms_and_email_are_sent_by_the_worker(app, sandbox):
    queue_both(app)
    assert statuses(app) == {"sms": ("pending", 0, None), "email": ("pending", 0, None)}
    run_notification_jobs(app)
    assert statuses(app) == {"sms": ("sent", 1, None), "email": ("sent", 1, None)}
    assert [(m["to"], m["text"]) for m in sandbox.sms] == [("+4791234567", "Your link: http://x/c/abc")]
    assert wait_for(lambda: len(sandbox.emails) == 1)
    assert sandbox.emails[0]["to"] == ["line@example.com"] and sandbox.emails[0]["subject"] == "Hello"


def test_a_failed_send_is_retried_later_and_visible(app, sandbox, staff_client):
    queue_both(app)
    sandbox.failures["sms"] = "5xx"
    run_notification_jobs(app)
    status, attempts, error = statuses(app)["sms"]
    assert (status, attempts) == ("pending", 1) and "503" in error
    with app.app_context():
        assert len(ScheduledJobRegistry(queue=Queue("notifications", connection=redis_client()))) == 1
    page = staff_client("secretary").get("/notifications").get_data(as_text=True)
    assert "SMS gateway answered 503" in page and "+4791234567" not in page


def test_gives_up_after_four_attempts_and_staff_can_retry(app, sandbox, staff_client):
    queue_both(app)
    sandbox.failures["smtp"] = "5xx"
    with app.app_context():
        mail_id = db.session.scalar(select(Notification.id).where(Notification.channel == "email"))
        for _ in range(4):
            try:
                services.deliver(mail_id)
            except Exception:
                pass
    assert statuses(app)["email"][:2] == ("failed", 4)
    secretary = staff_client("secretary")
    assert "Retry" in secretary.get("/notifications?status=failed").get_data(as_text=True)
    sandbox.failures["smtp"] = "ok"
    secretary.post(f"/notifications/{mail_id}/retry", data={"csrf_token": secretary.csrf})
    run_notification_jobs(app)
    assert statuses(app)["email"][0] == "sent"


def test_sending_twice_sends_once(app, sandbox):
    sms_id, _ = queue_both(app)
    run_notification_jobs(app)
    with app.app_context():
        assert services.deliver(sms_id) == "nothing to do"
    assert len(sandbox.sms) == 1


def test_redis_down_leaves_the_message_pending_for_the_sweep(app, sandbox):
    saved = app.extensions["portal_redis"]
    app.extensions["portal_redis"] = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                                 retry=Retry(NoBackoff(), 0))
    try:
        queue_both(app)  # dispatch fails quietly
    finally:
        app.extensions["portal_redis"] = saved
    assert statuses(app)["sms"] == ("pending", 0, None)
    run_notification_jobs(app)
    assert sandbox.sms == []
    with app.app_context():
        assert services.sweep_pending(older_than_seconds=0) == 2
        assert services.sweep_pending(older_than_seconds=0) == 0  # already enqueued: not twice
    run_notification_jobs(app)
    assert statuses(app)["sms"][0] == "sent" and len(sandbox.sms) == 1


def test_outbox_page_is_for_secretaries_and_admins(staff_client):
    assert staff_client("doctor").get("/notifications").status_code == 403
    assert staff_client("admin").get("/notifications?status=bogus").status_code == 200


def test_message_content_is_sealed_at_rest(app):
    queue_both(app)
    with app.app_context():
        from sqlalchemy import text

        row = db.session.execute(text("SELECT recipient, body FROM notifications WHERE channel = 'sms'")).one()
        assert "+4791234567" not in row.recipient and "/c/abc" not in row.body


def test_messages_dispatched_together_go_in_one_batch_job_that_the_sweep_counts_as_holding_them(app, sandbox):
    sms_id, mail_id = queue_both(app)
    with app.app_context():
        queue = Queue("notifications", connection=redis_client())
        assert queue.count == 1 and queue.jobs[0].args == ([sms_id, mail_id],)
        assert services.sweep_pending(older_than_seconds=0) == 0  # the batch holds both
        # The batch job is lost (Redis flushed, its worker died): the sweep queues the messages again.
        redis_client().delete(f"rq:job:{queue.job_ids[0]}", "rq:queue:notifications")
        assert services.sweep_pending(older_than_seconds=0) == 2
        assert queue.count == 1  # in one new batch job
    run_notification_jobs(app)
    assert statuses(app) == {"sms": ("sent", 1, None), "email": ("sent", 1, None)}
    assert len(sandbox.sms) == 1
    with app.app_context():
        assert redis_client().hlen(services.BATCHED_KEY) == 0  # the batch cleared its messages when done


def test_the_periodic_sweep_queues_messages_left_pending_and_schedules_its_next_run(app, sandbox):
    from datetime import timedelta

    from sqlalchemy import update

    from portal.notifications import jobs
    from portal.security.models import utcnow

    sms_id, mail_id = queue_both(app)  # both held by a live batch job
    pid = make_patient(app)
    with app.app_context():
        # A worker died after its batch committed this text and before it dispatched it.
        lost = services.queue_sms(to="+4790000001", text="Your claim is filed", kind="test", patient_id=pid)
        db.session.commit()
        db.session.execute(update(Notification).values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
        assert jobs.sweep_notifications() == 1  # the lost one only: the batch still holds the other two
        queue = Queue("notifications", connection=redis_client())
        assert queue.count == 2 and f"notification-{lost.id}" in queue.job_ids
        scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
        assert any(job_id.startswith("notifications-sweep-") for job_id in scheduled)
    run_notification_jobs(app)
    assert sorted(m["to"] for m in sandbox.sms) == ["+4790000001", "+4791234567"]
