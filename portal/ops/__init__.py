"""Operations: per-request JSON logs with a request id, Prometheus `/metrics`, and the admin queue
dashboard (rq-dashboard under /admin/rq)."""


def init_app(app) -> None:
    from portal.ops import metrics, queue_dashboard, request_log

    request_log.init_app(app)
    metrics.init_app(app)
    queue_dashboard.init_app(app)
