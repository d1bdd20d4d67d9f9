"""RQ entry points for the outbox. Workers run inside the app context (`flask worker`)."""

from portal.notifications import services


def send_notification(notification_id: int) -> str:
    """Send one queued message; raising makes RQ retry it on the schedule it was enqueued with."""
    return services.deliver(notification_id)
