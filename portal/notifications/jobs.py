"""RQ entry points for the outbox. Workers run inside the app context (`flask worker`)."""

from portal.notifications import services


def send_notification(notification_id: int) -> str:
    """Send one queued message; raising makes RQ retry it on the schedule it was enqueued with."""
    return services.deliver(notification_id)


def send_notifications(notification_ids: list[int]) -> dict:
    """Send a batch of queued messages in turn; one that fails is retried by a job of its own."""
    return services.send_batch(notification_ids)
