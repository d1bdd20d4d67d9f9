"""Home, health and readiness."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from portal.extensions import db, limiter, redis_client
from portal.ops import readiness

bp = Blueprint("main", __name__)

HOME_BY_ROLE = {"secretary": "referrals.queue", "admin": "referrals.queue", "doctor": "consultations.queue"}


@bp.get("/")
@login_required
def home():
    endpoint = HOME_BY_ROLE.get(current_user.role)
    if endpoint:
        return redirect(url_for(endpoint))
    return render_template("main/home.html")


@bp.get("/favicon.ico")
@limiter.exempt
def favicon():
    """Browsers ask for /favicon.ico by themselves (on JSON answers, say); pages name the SVG icon."""
    return redirect(url_for("static", filename="img/favicon.svg"), 301)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """503 and which part is not ready: the database, Redis, or the workers (none seen for a minute)."""
    connection = redis_client()
    checks = {"database": readiness.database_check(db.session), "redis": readiness.redis_check(connection)}
    checks["workers"] = (readiness.worker_check(connection) if checks["redis"] == "ok"
                         else "unknown (Redis unreachable)")
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
