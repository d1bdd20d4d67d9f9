"""Choosing a password from an e-mailed link: an invitation (72 h) or a reset (30 min), and "Forgot password"."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from portal.extensions import db, limiter
from portal.notifications import services as outbox
from portal.security import audit, passwords, sessions
from portal.security.auth import after_password
from portal.security.models import StaffUser
from portal.staff import services
from portal.staff.forms import ForgotPasswordForm, NewPasswordForm

bp = Blueprint("passwords", __name__)


def _choose_password(user: StaffUser, form: NewPasswordForm) -> bool:
    if not form.validate_on_submit():
        return False
    problem = passwords.password_problem(form.password.data, user.email)
    if problem:
        form.password.errors.append(problem)
        return False
    return True


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def accept_invitation(token):
    user = passwords.user_for_token(token, passwords.INVITE)
    if user is None:
        return render_template("staff/link_expired.html", invitation=True), 410
    form = NewPasswordForm()
    if not _choose_password(user, form):
        return render_template("staff/choose_password.html", form=form, user=user, invitation=True), (
            422 if request.method == "POST" else 200)
    if passwords.use_token(token, passwords.INVITE) is None:
        db.session.rollback()
        return render_template("staff/link_expired.html", invitation=True), 410
    passwords.set_password(user, form.password.data)
    audit.record("staff.invitation_accepted", subject=user, actor=("staff", str(user.id)))
    db.session.commit()
    flash(_("Welcome, %(name)s. Your password is set.", name=user.name))
    return after_password(user, None)


def _forgot_key() -> str:
    return "forgot:" + request.form.get("email", "").strip().lower()[:254]


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@limiter.limit("3 per hour", key_func=_forgot_key, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.send_password_reset(form.email.data)
        # The same answer whether or not the address has an account (ASVS 2.5.x: no account enumeration).
        return render_template("staff/forgot_password_sent.html")
    return render_template("staff/forgot_password.html", form=form), 422 if request.method == "POST" else 200


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def reset_password(token):
    user = passwords.user_for_token(token, passwords.RESET)
    if user is None:
        return render_template("staff/link_expired.html", invitation=False), 410
    form = NewPasswordForm()
    if not _choose_password(user, form):
        return render_template("staff/choose_password.html", form=form, user=user, invitation=False), (
            422 if request.method == "POST" else 200)
    if passwords.use_token(token, passwords.RESET) is None:
        db.session.rollback()
        return render_template("staff/link_expired.html", invitation=False), 410
    passwords.set_password(user, form.password.data)
    notification = services.tell_password_changed(user, _("reset with an e-mailed link"))
    audit.record("staff.password_reset", subject=user, actor=("staff", str(user.id)))
    db.session.commit()
    outbox.dispatch([notification])
    try:
        sessions.end_sessions(user)
    except sessions.RedisDown:
        pass  # the session epoch moved on: old cookies are refused by the user loader all the same
    session.clear()
    flash(_("Your password is changed and every session of your account has ended. Please sign in."))
    return redirect(url_for("security.login"))
