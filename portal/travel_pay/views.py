"""Staff see travel claims (status, attempts, last error, next attempt) and re-submit failed ones.
The same page shows check-in's front-desk list (checkin/front_desk_views.py)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from jinja2_fragments.flask import render_block

from portal import sqlite_writer
from portal.extensions import db
from portal.pages import htmx_wants
from portal.security import audit
from portal.security.policy import requires
from portal.travel_pay import breaker, services
from portal.travel_pay.models import STATUSES, claim_status_label, status_label

bp = Blueprint("travel_pay", __name__)

PAGE = "travel_pay/claims.html"


def _actor() -> tuple[str, str]:
    return "staff", str(current_user.id)


@bp.get("/travel-claims")
@sqlite_writer.audited_page
@requires("travel_claim.view")
def claims():
    status = request.args.get("status")
    status = status if status in STATUSES else None
    listed = services.list_claims(status)
    # The list shows patient names: a read of patient data.
    audit.record_read("travel_claims.listed", actor=_actor(), status=status, count=len(listed),
                      patients=sorted({c.patient_id for c in listed})[:200])
    return render_template(PAGE, claims=listed, status=status, statuses=STATUSES,
                           paused_until=breaker.open_until(), claim_label=claim_status_label, status_label=status_label)


@bp.post("/travel-claims/<int:claim_id>/resubmit")
@requires("travel_claim.resubmit")
def resubmit(claim_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    claim = services.get_claim(claim_id)
    if claim is None:
        abort(404)
    again = services.resubmit_failed(claim_id, actor=_actor())
    message = _("The claim will be filed again now.") if again else _("Only a failed claim can be re-submitted.")
    if htmx_wants():
        db.session.refresh(claim)
        return render_block(PAGE, "claim_row", claim=claim, row_message=message, claim_label=claim_status_label,
                            status_label=status_label), \
            (200 if again else 409)
    flash(message)
    return redirect(url_for("travel_pay.claims"))
