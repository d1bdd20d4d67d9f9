"""Staff see the outbox: what was sent, what is pending, what failed and why; and retry."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.notifications import services
from portal.notifications.models import FAILED, PENDING, SENT
from portal.security.policy import requires

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@requires("notification.view")
def outbox():
    status = request.args.get("status")
    status = status if status in (PENDING, SENT, FAILED) else None
    return render_template("notifications/outbox.html", notifications=services.recent_notifications(status),
                           status=status)


@bp.post("/notifications/<int:notification_id>/retry")
@requires("notification.view")
def retry(notification_id: int):
    from flask_wtf import FlaskForm

    if not FlaskForm().validate_on_submit():
        abort(400)
    if services.retry_failed(notification_id):
        flash(_("The message will be sent again."))
    else:
        flash(_("Only a failed message can be retried."))
    return redirect(url_for("notifications.outbox", status=FAILED))
