"""Operations: per-request JSON logs with a request id, Prometheus `/metrics`, and the admin queue
dashboard (rq-dashboard under /admin/rq)."""
