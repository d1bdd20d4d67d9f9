"""rq-dashboard mounted at /admin/rq for admins only, its buttons (requeue, delete, empty) included.

Its pages use inline scripts and styles, so the CSP is relaxed on its paths only. Its buttons POST with
jQuery and cannot carry our CSRF token without copying its templates, so its blueprint is exempt from
flask-wtf's token check, and a POST there must instead pass the checks below (ASVS 4.2.2 / 13.2.3 allow
either): the Origin header names this site (browsers send Origin on every POST, and a page of another site
cannot forge it), it carries `X-Requested-With: XMLHttpRequest` (jQuery's same-origin ajax sets it; another
site could only send it after a CORS preflight, which we never answer), and the user is an admin. The
session cookie is SameSite=Lax as well, so a cross-site POST does not even arrive signed in.
"""

import rq_dashboard
from flask import abort, request

from portal.extensions import csrf
from portal.security.policy import authorize

URL_PREFIX = "/admin/rq"
# rq-dashboard's own pages need inline script/style; nothing else on the site gets this.
DASHBOARD_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                 "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                 "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")


def _same_origin_ajax() -> bool:
    origin = request.headers.get("Origin", "")
    return (origin == request.host_url.rstrip("/")
            and request.headers.get("X-Requested-With") == "XMLHttpRequest")


def _admins_only():
    authorize("ops.queues")
    # We configure one Redis; another instance number would be a 500 inside rq-dashboard.
    if (request.view_args or {}).get("instance_number", 0) != 0:
        abort(404)
    # "Requeue all" also answers GET there: a link must not change anything.
    if request.method == "GET" and request.endpoint == "rq_dashboard.requeue_all":
        abort(405)
    if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin_ajax():
        abort(403, "Changes to the job queues are accepted from the dashboard's own buttons only.")


def _relaxed_csp(response):
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    return response


def _hooks_added() -> bool:
    return _admins_only in rq_dashboard.blueprint.before_request_funcs.get(None, [])


def init_app(app) -> None:
    blueprint = rq_dashboard.blueprint
    # The blueprint is one module-level object; add our hooks to it once, however many apps.
    if not _hooks_added():
        blueprint.before_request_funcs.setdefault(None, []).insert(0, _admins_only)
        blueprint.after_request(_relaxed_csp)
    csrf.exempt(blueprint)  # replaced by the same-origin checks in _admins_only, see above
    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", app.config["REDIS_URL"])
    app.config.setdefault("RQ_DASHBOARD_DISABLE_DELETE", False)
    app.register_blueprint(blueprint, url_prefix=URL_PREFIX)
    rq_dashboard.web.setup_rq_connection(app)
