"""rq-dashboard mounted at /admin/rq for admins only.

Its pages use inline scripts and styles, so the CSP is relaxed on its paths only. Its buttons
(requeue, delete, empty) POST without our CSRF token and are refused: the dashboard is for
watching queues and reading failures; a failed job is re-run with `rq requeue` on the host.
"""

import rq_dashboard
from flask import abort, request

from portal.extensions import redis_url_with_timeouts
from portal.security.policy import authorize

URL_PREFIX = "/admin/rq"
# rq-dashboard's own pages need inline script/style; nothing else on the site gets this.
DASHBOARD_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                 "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                 "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")


def _admins_only():
    authorize("ops.queues")
    # We configure one Redis; another instance number would be a 500 inside rq-dashboard.
    if (request.view_args or {}).get("instance_number", 0) != 0:
        abort(404)
    # "Requeue all" also answers GET there: a link must not change anything.
    if request.method == "GET" and request.endpoint == "rq_dashboard.requeue_all":
        abort(405)


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
    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", redis_url_with_timeouts(app.config))
    app.config.setdefault("RQ_DASHBOARD_DISABLE_DELETE", True)
    app.register_blueprint(blueprint, url_prefix=URL_PREFIX)
    rq_dashboard.web.setup_rq_connection(app)
