"""Helpers the staff-account tests share: e-mails in the outbox, links in them."""

import re

from sqlalchemy import select

from portal.extensions import db
from portal.notifications.models import Notification


def emails(app, kind: str, to: str | None = None) -> list[Notification]:
    with app.app_context():
        rows = list(db.session.scalars(select(Notification).where(Notification.kind == kind)
                                       .order_by(Notification.id)))
        return [row for row in rows if to is None or row.recipient == to]


def link_in(notification: Notification) -> str:
    """The path of the link in an e-mail (the test client speaks to the app directly)."""
    match = re.search(r"https?://[^/\s]+(/\S+)", notification.body)
    assert match, notification.body
    return match.group(1)
