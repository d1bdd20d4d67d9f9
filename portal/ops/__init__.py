"""Operations: per-request JSON logs with a request id, Prometheus `/metrics`, and the admins' job
queues pages (/admin/rq)."""


def init_app(app) -> None:
    # queue_dashboard adds its pages to the ops blueprint that metrics registers.
    from portal.ops import metrics, queue_dashboard, request_log  # noqa: F401

    request_log.init_app(app)
    metrics.init_app(app)
