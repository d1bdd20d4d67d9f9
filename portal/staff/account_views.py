"""A staff user's own account: active sessions (end the others), password change, two-factor."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.extensions import db, limiter
from portal.notifications import services as outbox
from portal.security import audit, passwords, sessions, two_factor
from portal.security.forms import EmptyForm, SetUpCodeForm
from portal.security.models import StaffUser
from portal.staff import services as staff
from portal.staff.forms import ChangePasswordForm, PasswordAgainForm

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.before_request
@login_required
def _staff_only():
    # Partner users manage their account at their organisation's identity provider.
    if not isinstance(current_user._get_current_object(), StaffUser):
        abort(404)


@bp.get("/sessions")
def active_sessions():
    try:
        listed = sessions.active_sessions(current_user)
    except sessions.RedisDown:
        abort(503)
    return render_template("staff/sessions.html", sessions=listed, form=EmptyForm())


@bp.post("/sessions/end-others")
def end_other_sessions():
    if not EmptyForm().validate_on_submit():
        abort(400)
    ended = sessions.end_sessions(current_user, keep_current=True)
    audit.record("staff.sessions_ended", subject=current_user._get_current_object(), ended=ended)
    db.session.commit()
    flash(_("Your other sessions have ended (%(n)d).", n=ended))
    return redirect(url_for("account.active_sessions"))


@bp.post("/sessions/<digest>/end")
def end_session(digest):
    if not EmptyForm().validate_on_submit() or len(digest) != 64:
        abort(400)
    if not sessions.end_one(current_user, digest):
        abort(404)
    audit.record("staff.sessions_ended", subject=current_user._get_current_object(), ended=1)
    db.session.commit()
    flash(_("That session has ended."))
    return redirect(url_for("account.active_sessions"))


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], key_func=lambda: current_user.get_id())
def change_password():
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_template("staff/change_password.html", form=form), 422 if request.method == "POST" else 200
    user = current_user._get_current_object()
    if not user.check_password(form.current.data):
        form.current.errors.append(_("That is not your current password."))
        return render_template("staff/change_password.html", form=form), 422
    problem = passwords.password_problem(form.password.data, user.email)
    if problem:
        form.password.errors.append(problem)
        return render_template("staff/change_password.html", form=form), 422
    passwords.set_password(user, form.password.data)
    notification = staff.tell_password_changed(user, _("changed in your account settings"))
    audit.record("staff.password_changed", subject=user)
    db.session.commit()
    outbox.dispatch([notification])
    # Every session of the account ends, this one included; this browser gets a fresh one.
    sessions.end_sessions(user)
    sessions.begin(user)
    flash(_("Your password is changed. Your other sessions have ended."))
    return redirect(url_for("account.active_sessions"))


@bp.route("/two-factor", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], key_func=lambda: current_user.get_id())
def two_factor_settings():
    """Set two-factor up (when the role does not require it, a person may still choose it), or make new
    recovery codes (the password again, then the codes are shown once)."""
    user = current_user._get_current_object()
    if user.two_factor_enabled:
        form = PasswordAgainForm()
        if form.validate_on_submit():
            if not user.check_password(form.password.data):
                form.password.errors.append(_("That is not your current password."))
            else:
                codes = two_factor.new_recovery_codes(user)
                audit.record("staff.recovery_codes_renewed", subject=user)
                db.session.commit()
                return render_template("security/recovery_codes.html", codes=codes,
                                       next_url=url_for("account.two_factor_settings"))
        return render_template("staff/two_factor_settings.html", form=form,
                               left=two_factor.recovery_codes_left(user)), 422 if request.method == "POST" else 200
    form = SetUpCodeForm()
    secret = two_factor.pending_secret(user)
    if form.validate_on_submit():
        codes = two_factor.confirm_set_up(user, form.code.data)
        if codes is not None:
            audit.record("staff.two_factor_enabled", subject=user)
            db.session.commit()
            return render_template("security/recovery_codes.html", codes=codes,
                                   next_url=url_for("account.two_factor_settings"))
        db.session.rollback()
        form.code.errors.append(_("That code is not right. Check the time on your phone and try the newest code."))
    uri = two_factor.provisioning_uri(user, secret)
    return render_template("security/set_up_two_factor.html", form=form, secret=secret, qr=two_factor.qr_svg(uri),
                           optional=True), 422 if request.method == "POST" else 200
