"""RQ entry points for the outbox. Workers run inside the app context (`flask worker`)."""

from flask import current_app

from portal import periodic
from portal.notifications import services


def send_notification(notification_id: int) -> str:
    """Send one queued message; raising makes RQ retry it on the schedule it was enqueued with."""
    return services.deliver(notification_id)


def send_notifications(notification_ids: list[int]) -> dict:
    """Send a batch of queued messages in turn; one that fails is retried by a job of its own."""
    return services.send_batch(notification_ids)


def sweep_notifications() -> int:
    """The periodic outbox sweep: messages pending for NOTIFICATION_SWEEP_SECONDS that no job (nor a live
    batch) holds — a worker died between a batch's commit and its dispatch, or Redis was down — are queued
    again; then it schedules its next run."""
    try:
        return services.sweep_pending(older_than_seconds=current_app.config["NOTIFICATION_SWEEP_SECONDS"])
    finally:
        schedule_sweep()


def schedule_sweep() -> None:
    periodic.schedule_next("notifications-sweep", "portal.notifications.jobs.sweep_notifications",
                           current_app.config["NOTIFICATION_SWEEP_SECONDS"], queue=services.QUEUE_NAME)
