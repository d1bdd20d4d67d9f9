"""Staff administration for admins: /admin/staff (list, search, invite, role, deactivate, two-factor reset)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.pages import page_or_block
from portal.security import audit, sessions, two_factor
from portal.security.forms import EmptyForm
from portal.security.policy import authorize_found, requires
from portal.staff import services as staff
from portal.staff.forms import InviteForm, RoleForm, StaffSearchForm

bp = Blueprint("staff_admin", __name__, url_prefix="/admin/staff")

LIST_TEMPLATE = "staff/staff_list.html"


@bp.route("", methods=["GET", "POST"])
@requires("staff.manage")
def staff_list():
    invite = InviteForm()
    status = 200
    if request.method == "POST":
        if invite.validate_on_submit():
            try:
                user = staff.invite_staff(name=invite.name.data, email=invite.email.data, role=invite.role.data)
                flash(_("Invitation sent to %(email)s.", email=user.email))
                return redirect(url_for("staff_admin.staff_user", user_id=user.id))
            except staff.InvalidInput as error:
                invite.email.errors.append(str(error))
        status = 422
    search = StaffSearchForm(request.args)
    page = staff.list_staff(search.q.data or "", request.args.get("page", 1, type=int) or 1)
    context = {"search": search, "result": page, "invite": invite, "q": search.q.data or ""}
    if request.method == "GET":
        return page_or_block(LIST_TEMPLATE, "results", **context), status
    return render_template(LIST_TEMPLATE, **context), status


def _user_or_404(user_id: int):
    return authorize_found("staff.manage", staff.get_staff(user_id))


@bp.get("/<int:user_id>")
@requires("staff.manage")
def staff_user(user_id):
    user = _user_or_404(user_id)
    try:
        open_sessions = len(sessions.active_sessions(user))
    except sessions.RedisDown:
        open_sessions = None
    return render_template("staff/staff_user.html", user=user, role_form=RoleForm(role=user.role),
                           form=EmptyForm(), open_sessions=open_sessions,
                           required=two_factor.required_for(user))


def _checked(user_id: int):
    user = _user_or_404(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    return user


@bp.post("/<int:user_id>/role")
@requires("staff.manage")
def change_role(user_id):
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        staff.change_role(user.id, form.role.data)
        flash(_("Role changed; their sessions have ended."))
    except staff.LastAdmin as refusal:
        flash(str(refusal))
    return redirect(url_for("staff_admin.staff_user", user_id=user.id))


@bp.post("/<int:user_id>/deactivate")
@requires("staff.manage")
def deactivate(user_id):
    user = _checked(user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate yourself."))
        return redirect(url_for("staff_admin.staff_user", user_id=user.id))
    try:
        staff.deactivate(user.id)
        flash(_("%(name)s is deactivated and signed out everywhere.", name=user.name))
    except staff.LastAdmin as refusal:
        flash(str(refusal))
    return redirect(url_for("staff_admin.staff_user", user_id=user.id))


@bp.post("/<int:user_id>/reactivate")
@requires("staff.manage")
def reactivate(user_id):
    user = _checked(user_id)
    staff.reactivate(user.id)
    flash(_("%(name)s can sign in again.", name=user.name))
    return redirect(url_for("staff_admin.staff_user", user_id=user.id))


@bp.post("/<int:user_id>/resend-invitation")
@requires("staff.manage")
def resend_invitation(user_id):
    user = _checked(user_id)
    try:
        staff.resend_invitation(user.id)
        flash(_("A new invitation is on its way; the earlier link no longer works."))
    except staff.InvalidInput as error:
        flash(str(error))
    return redirect(url_for("staff_admin.staff_user", user_id=user.id))


@bp.post("/<int:user_id>/reset-two-factor")
@requires("staff.manage")
def reset_two_factor(user_id):
    user = _checked(user_id)
    two_factor.reset(user)
    audit.record("staff.two_factor_reset", subject=user)
    db.session.commit()
    try:
        sessions.end_sessions(user)
    except sessions.RedisDown:
        pass  # the session epoch moved on: their cookies no longer work
    flash(_("Two-factor is reset for %(name)s: they set it up again at their next sign-in.", name=user.name))
    return redirect(url_for("staff_admin.staff_user", user_id=user.id))
