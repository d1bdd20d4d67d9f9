"""Staff sign-in, sign-out, idle timeout, and the headers every response carries."""

import re
import time
import uuid
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, g, make_response, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from portal.extensions import db, limiter, login_manager
from portal.security import audit
from portal.security.forms import LoginForm
from portal.security.models import StaffUser

bp = Blueprint("security", __name__)

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
CORRELATION_ID = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,199}")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")


def content_security_policy() -> str:
    """CSP, with the video service's origin allowed as a form target: the participant key is POSTed
    to its join page (a key in a URL would end up in histories and access logs)."""
    parts = urlsplit(current_app.config.get("VIDEO_JOIN_URL") or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return CSP
    return CSP.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


def background(view):
    """Mark a view as a background poll: it does not count as activity for the idle timeout."""
    view.background_poll = True
    return view


def _login_key() -> str:
    return "login:" + request.form.get("email", "").strip().lower()


def _lockout_limit() -> str:
    cfg = current_app.config
    return f"{cfg['LOGIN_MAX_FAILURES']} per {cfg['LOGIN_LOCKOUT_MINUTES']} minutes"


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
@limiter.limit(_lockout_limit, key_func=_login_key, methods=["POST"],
               deduct_when=lambda response: g.get("login_failed", False))
def login():
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
        if user is None:
            StaffUser.burn_password_check(form.password.data)
        if user is not None and user.active and user.check_password(form.password.data):
            session.clear()
            login_user(user)
            session.permanent = True
            session["last_active"] = time.time()
            audit.record("staff.login", subject=user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        g.login_failed = True
        form.password.errors.append("E-mail or password is not right.")
        return render_template("security/login.html", form=form), 200
    return render_template("security/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        audit.record("staff.logout", subject=current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("security.login"))


@login_manager.user_loader
def load_user(user_id: str):
    kind, _, raw_id = user_id.partition(":")
    if not raw_id.isdigit() or len(raw_id) > 9:
        return None
    if kind == "staff":
        return db.session.get(StaffUser, int(raw_id))
    if kind == "partner":
        from portal.partners.models import PartnerUser

        user = db.session.get(PartnerUser, int(raw_id))
        # A deactivated partner user is signed out at their next request.
        return user if user is not None and user.active else None
    return None


@login_manager.unauthorized_handler
def unauthorized():
    from portal.partners.sign_in import sign_in_target

    # Partner users sign in at their organisation's provider, never on the staff form.
    target = sign_in_target() or url_for("security.login", next=request.full_path if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    if request.path.startswith("/api/"):
        return make_response({"title": "Sign-in required", "status": 401}, 401)
    flash("Please sign in.")
    return redirect(target)


def _enforce_idle_timeout():
    # A proxy's id is kept if it looks like one; anything else (long, odd characters) is replaced,
    # since the id goes into every log line and the audit log's 64-character column.
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    # The booking pages' rule: a client's id that we replaced goes back as X-Correlation-Id, and a
    # client's own X-Correlation-Id is echoed (printable ASCII only, and bounded: it is the client's text).
    correlation = request.headers.get("X-Correlation-ID") or (given if given != g.request_id else "")
    if correlation and CORRELATION_ID.fullmatch(correlation):
        g.correlation_id = correlation
    if not current_user.is_authenticated:
        return None
    idle_limit = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    last = session.get("last_active", 0)
    now = time.time()
    if now - last > idle_limit:
        g.signed_out_tenant = getattr(getattr(current_user, "partner", None), "tenant", None)
        logout_user()
        session.clear()
        flash("You were signed out after a period of inactivity.")
        return unauthorized()
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "background_poll", False):
        session["last_active"] = now
    return None


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(self), geolocation=()"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if g.get("correlation_id"):
        response.headers["X-Correlation-ID"] = g.correlation_id
    return response


def init_app(app):
    login_manager.init_app(app)
    login_manager.login_view = "security.login"
    login_manager.session_protection = "strong"
    app.before_request(_enforce_idle_timeout)
    app.after_request(_security_headers)
