"""Staff sign-in, sign-out, idle timeout, and the headers every response carries."""

import re
import time
import uuid
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, logout_user
from sqlalchemy import bindparam, select

from portal.extensions import db, limiter, login_manager
from portal.pages import htmx_wants
from portal.security import audit, sessions, two_factor
from portal.security.forms import CodeForm, LoginForm, SetUpCodeForm
from portal.security.models import StaffUser, utcnow

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


# Whose sessions have a server-side record (checked on every request): every kind of signed-in user.
SERVER_SIDE_KINDS = ("staff:", "partner:")
# How stale `last_active` may grow before a request writes it again (and so re-sends the cookie).
ACTIVITY_STEP_SECONDS = 60
SESSION_STORE_DOWN = _l("Sign-in is unavailable for a moment (the session store cannot be reached). "
                        "Try again shortly.")


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
            return after_password(user, request.args.get("next"))
        g.login_failed = True
        form.password.errors.append(_("E-mail or password is not right."))
        return render_template("security/login.html", form=form), 200
    return render_template("security/login.html", form=form)


# --- the second step: a code, or setting two-factor up -----------------------------------------------

PENDING = "pending_sign_in"
PENDING_SECONDS = 300  # the password step is good for five minutes


def after_password(user: StaffUser, next_url: str | None):
    """Sign in now, or hold the password step in the cookie and ask for the second step."""
    if not user.two_factor_enabled and not two_factor.required_for(user):
        return _complete_sign_in(user, next_url, second_step=None)
    session.clear()
    session[PENDING] = {"user": user.id, "epoch": user.session_epoch, "at": time.time(),
                        "next": _safe_next(next_url)}
    if user.two_factor_enabled:
        return redirect(url_for("security.login_code"))
    return redirect(url_for("security.set_up_two_factor"))


def _pending_user() -> StaffUser | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(StaffUser, int(pending.get("user", 0)))
    if user is None or not user.active or user.session_epoch != pending.get("epoch"):
        return None
    return user


def _start_again():
    session.pop(PENDING, None)
    flash(_("Please sign in again."))
    return redirect(url_for("security.login"))


def _complete_sign_in(user: StaffUser, next_url: str | None, second_step: str | None):
    begin_session(user)
    user.last_login_at = utcnow()
    audit.record("staff.login", subject=user, **({"second_step": second_step} if second_step else {}))
    db.session.commit()
    return redirect(_safe_next(next_url))


def _code_key() -> str:
    pending = session.get(PENDING)
    return f"login-code:{pending.get('user') if isinstance(pending, dict) else 'none'}"


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
@limiter.limit(_lockout_limit, key_func=_code_key, methods=["POST"],
               deduct_when=lambda response: g.get("login_failed", False))
def login_code():
    user = _pending_user()
    if user is None or not user.two_factor_enabled:
        return _start_again()
    form = CodeForm()
    if form.validate_on_submit():
        code = form.code.data
        if code.isdigit() and two_factor.verify_code(user, code):
            return _complete_sign_in(user, session[PENDING]["next"], second_step="totp")
        if not code.isdigit() and two_factor.use_recovery_code(user, code):
            left = two_factor.recovery_codes_left(user)
            response = _complete_sign_in(user, session[PENDING]["next"], second_step="recovery_code")
            flash(_("You signed in with a recovery code; %(n)d left. Make new ones under Your account.", n=left))
            return response
        db.session.rollback()
        g.login_failed = True
        form.code.errors.append(_("That code is not right, or was used already. Codes change every 30 seconds."))
        return render_template("security/login_code.html", form=form), 200
    return render_template("security/login_code.html", form=form)


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
@limiter.limit(_lockout_limit, key_func=_code_key, methods=["POST"],
               deduct_when=lambda response: g.get("login_failed", False))
def set_up_two_factor():
    """Required set-up right after the password step: nothing else opens before it is done."""
    user = _pending_user()
    if user is None or user.two_factor_enabled:
        return _start_again()
    form = SetUpCodeForm()
    secret = two_factor.pending_secret(user)
    if form.validate_on_submit():
        codes = two_factor.confirm_set_up(user, form.code.data)
        if codes is not None:
            audit.record("staff.two_factor_enabled", subject=user)
            next_url = session[PENDING]["next"]
            _complete_sign_in(user, next_url, second_step="totp_set_up")
            # Shown once, in this answer: they are stored only as hashes.
            return render_template("security/recovery_codes.html", codes=codes, next_url=_safe_next(next_url))
        db.session.rollback()
        g.login_failed = True
        form.code.errors.append(_("That code is not right. Check the time on your phone and try the newest code."))
    uri = two_factor.provisioning_uri(user, secret)
    return render_template("security/set_up_two_factor.html", form=form, secret=secret, qr=two_factor.qr_svg(uri)), (
        422 if request.method == "POST" else 200)


def begin_session(user) -> None:
    """Sign a staff or partner user in with a server-side session record; 503 when Redis is down."""
    try:
        sessions.begin(user)
    except sessions.RedisDown:
        current_app.logger.error("sign-in refused: the session store (Redis) is unreachable")
        abort(503, SESSION_STORE_DOWN)


def end_session(event: str) -> None:
    """Sign-out of a staff or partner user: the session's record goes (so the cookie, replayed, opens
    nothing on any process), the event is audited, and the cookie is emptied."""
    if current_user.is_authenticated:
        try:
            sessions.end_current(current_user.get_id())
        except sessions.RedisDown:
            abort(503, SESSION_STORE_DOWN)
        audit.record(event, subject=current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()


@bp.route("/logout", methods=["POST"])
def logout():
    end_session("staff.logout")
    flash("You are signed out.")
    return redirect(url_for("security.login"))


# Kinds of user besides staff, by the prefix of their session id ("partner:12"), and where people
# who use another package's pages sign in. The packages that own them register these (partners
# does, in its init_app), so this package, below them all, imports none of them.
_user_loaders = {}
_sign_in_targets = {}


def register_user_kind(prefix: str, loader) -> None:
    """`loader(id)` returns the user with that id, or None to sign them out."""
    _user_loaders[prefix] = loader


def register_sign_in_target(name: str, target) -> None:
    """`target()` returns the sign-in URL for the current request's page, or None when it is not theirs."""
    _sign_in_targets[name] = target


_STAFF_USER_BY_ID = select(StaffUser).where(StaffUser.id == bindparam("id"))


@login_manager.user_loader
def load_user(user_id: str):
    kind, _, raw_id = user_id.partition(":")
    if not raw_id.isdigit() or len(raw_id) > 9:
        return None
    if kind == "staff":
        # A SELECT by id rather than Session.get: the session is new each request (nothing in its identity map
        # to find), and get's own path (its primary-key query built and keyed anew each call) took ~0.1 ms
        # more CPU (~270 µs against ~180 µs, user loaded and discarded 3000 times) than this one statement.
        user = db.session.scalar(_STAFF_USER_BY_ID, {"id": int(raw_id)})
        # A password change or reset, a role change or a deactivation moves the epoch on: the cookies of
        # older sessions stop working here even if their Redis records could not be deleted at that moment.
        if user is None or not user.active or session.get("epoch") != user.session_epoch:
            return None
        return user
    loader = _user_loaders.get(kind)
    return loader(int(raw_id)) if loader is not None else None


def _sign_in_target() -> str:
    for target in _sign_in_targets.values():
        url = target()
        if url:
            return url
    return url_for("security.login", next=request.full_path if request.method == "GET" else None)


@login_manager.unauthorized_handler
def unauthorized():
    # Partner users sign in at their organisation's provider, never on the staff form.
    target = _sign_in_target()
    if htmx_wants():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    if request.path.startswith("/api/"):
        return make_response({"title": "Sign-in required", "status": 401}, 401)
    flash("Please sign in.")
    return redirect(target)


def _signed_out(message: str):
    g.signed_out_tenant = getattr(getattr(current_user, "partner", None), "tenant", None)
    logout_user()
    session.clear()
    flash(message)
    return unauthorized()


def _enforce_session():
    """Idle timeout (cookie and Redis TTL), absolute lifetime and ended sessions, before any view runs."""
    # A proxy's id is kept if it looks like one; anything else (long, odd characters) is replaced,
    # since the id goes into every log line and the audit log's 64-character column.
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    # The booking pages' rule: a client's id that we replaced goes back as X-Correlation-Id, and a
    # client's own X-Correlation-Id is echoed (printable ASCII only, and bounded: it is the client's text).
    correlation = request.headers.get("X-Correlation-ID") or (given if given != g.request_id else "")
    if correlation and CORRELATION_ID.fullmatch(correlation):
        g.correlation_id = correlation
    idle_limit = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    now = time.time()
    user_key = session.get("_user_id")
    if not isinstance(user_key, str):
        # A patient's link session has no user: the age of its cookie's signature is its idle timeout
        # (Flask refuses a cookie signed longer ago than the lifetime), so any request of theirs renews it.
        if session.permanent:
            _note_activity(now, idle_limit)
        return None
    if now - session.get("last_active", 0) > idle_limit:
        return _signed_out("You were signed out after a period of inactivity.")
    view = current_app.view_functions.get(request.endpoint)
    activity = not getattr(view, "background_poll", False)
    if user_key.startswith(SERVER_SIDE_KINDS):
        # A live page names its change counter (`live.follows`): read in the session check's round trip.
        counter = getattr(view, "live_key", None)
        try:
            state, value = sessions.check(user_key, activity=activity, also_get=counter)
        except sessions.RedisDown:
            current_app.logger.error("session check failed: the session store (Redis) is unreachable")
            abort(503, SESSION_STORE_DOWN)
        if state == sessions.EXPIRED:
            return _signed_out("Your session reached its time limit. Please sign in again.")
        if state != sessions.GOOD:
            return _signed_out("Your session has ended. Please sign in again.")
        if counter:
            g.redis_read = {counter: value}
    if activity:
        _note_activity(now, idle_limit)
    return None


def _note_activity(now: float, idle_limit: float) -> None:
    """Move `last_active` on, but only once it is a fifteenth of the idle timeout old (a minute at most).

    Writing it changes the cookie, which must then be signed and sent again; the cookie is not re-sent
    otherwise (SESSION_REFRESH_EACH_REQUEST is off), so most requests skip both. The idle timeout then
    ends a session between 14/15 of SESSION_IDLE_MINUTES and SESSION_IDLE_MINUTES after its last
    activity: never later. The cookie's expiry and its signature's age move on with every write."""
    if now - session.get("last_active", 0) >= min(ACTIVITY_STEP_SECONDS, idle_limit / 15):
        session["last_active"] = now


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
    app.before_request(_enforce_session)
    app.after_request(_security_headers)
