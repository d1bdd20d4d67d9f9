"""The front desk's part of check-in, for staff: check-ins whose patients said some details are wrong,
listed on the travel claims page, and "Updated" once the desk has put them right.

Its own blueprint, named after its package: its URL sits under /travel-claims, where a child of
the check-in blueprint (/checkin) cannot go. The travel claims page shows the list through the
template global `front_desk_check_ins`, so travel pay does not import check-in (check-in files
travel claims, so it imports travel pay).
"""

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from portal.checkin import services
from portal.security import audit
from portal.security.policy import can, requires

bp = Blueprint("checkin_front_desk", __name__, url_prefix="/travel-claims/front-desk")


def _actor() -> tuple[str, str]:
    return "staff", str(current_user.id)


@bp.app_template_global()
def front_desk_check_ins() -> list:
    """The front desk's list for the page being rendered; showing patient names is an audited read."""
    if not can(current_user, "travel_claim.view"):
        return []
    records = services.front_desk_list()
    if records:
        audit.record_read("checkin.front_desk_listed", actor=_actor(),
                          patients=sorted({r.patient_id for r in records})[:200])
    return records


@bp.post("/<int:check_in_id>/done")
@requires("check_in.front_desk")
def done(check_in_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    changed = services.front_desk_done(check_in_id, actor=_actor())
    flash(_("Marked as updated.") if changed else _("That was already done."))
    return redirect(url_for("travel_pay.claims"))
