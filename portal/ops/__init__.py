"""Operations: per-request JSON logs with a request id, Prometheus `/metrics`, the admins' job
queues pages (/admin/rq) and the readiness checks."""
