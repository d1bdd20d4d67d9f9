"""Home, health and readiness."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from portal.extensions import db, limiter, redis_client

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
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # any failure means not ready; the reason goes to the log, not the probe
        checks["database"] = "unreachable"
    finally:
        db.session.rollback()
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except Exception:
        checks["redis"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
