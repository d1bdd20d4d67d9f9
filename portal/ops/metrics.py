"""Prometheus metrics at /metrics, behind a bearer token.

gunicorn runs several worker processes, each with its own counters. With PROMETHEUS_MULTIPROC_DIR
set (gunicorn.conf.py does it and empties the folder at start), prometheus_client writes every
process's values to files there and a scrape adds them up, so a count is the same whichever worker
answers. Queue lengths, failed-job counts and the job-failure total are read from Redis at scrape
time: workers run in other processes and possibly on other hosts, and Redis is where they meet.
"""

import hmac
import os
from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from rq import Queue
from rq.registry import FailedJobRegistry

from portal.extensions import csrf, redis_client
from portal.ops.request_log import request_seconds

bp = Blueprint("ops", __name__)

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
QUEUES = ("notifications", "claims", "reports", "default")  # what `flask worker` serves by default
JOB_FAILURES_KEY = "portal:metrics:job_failures"  # a Redis hash: queue name -> failures so far

REQUEST_SECONDS = Histogram(
    "portal_http_request_duration_seconds", "Time to answer a request, by route name (never the raw path).",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WAITING_SECONDS = Histogram(
    "portal_consultation_waiting_seconds", "Time from a consultation's creation until its doctor started it.",
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800),
)


def record_consultation_started(waited: timedelta) -> None:
    WAITING_SECONDS.observe(max(waited.total_seconds(), 0))


def record_job_failure(job, exc_type, exc_value, traceback) -> bool:
    """RQ exception handler (see `flask worker`): counts the failure in Redis, where every worker
    process adds to one total. True lets RQ carry on to its own failure handling."""
    job.connection.hincrby(JOB_FAILURES_KEY, job.origin or "unknown", 1)
    return True


class QueueCollector:
    """Queue lengths, failed jobs kept and failures so far, read from Redis when scraped."""

    def __init__(self, connection):
        self.connection = connection

    def collect(self):
        waiting = GaugeMetricFamily("portal_rq_queue_length", "Jobs waiting in an RQ queue.", labels=["queue"])
        failed = GaugeMetricFamily("portal_rq_failed_jobs", "Failed jobs kept in a queue's failed registry.",
                                   labels=["queue"])
        failures = CounterMetricFamily("portal_rq_job_failures", "Jobs that raised, counted by the workers.",
                                       labels=["queue"])
        counted = {k.decode(): int(v) for k, v in self.connection.hgetall(JOB_FAILURES_KEY).items()}
        for name in sorted(set(QUEUES) | set(counted)):
            queue = Queue(name, connection=self.connection)
            waiting.add_metric([name], queue.count)
            failed.add_metric([name], FailedJobRegistry(queue=queue).count)
            failures.add_metric([name], counted.get(name, 0))
        yield from (waiting, failed, failures)


def _process_metrics() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _token_matches() -> bool:
    expected = current_app.config.get("METRICS_TOKEN") or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                                    expected.encode())


@bp.get("/metrics")
@csrf.exempt
def scrape():
    if not _token_matches():
        # 404, not 401: a scanner learns nothing about what is here.
        abort(404)
    queues = CollectorRegistry()
    queues.register(QueueCollector(redis_client()))
    return Response(_process_metrics() + generate_latest(queues), mimetype=CONTENT_TYPE_LATEST)


def _observe_request(response):
    seconds = request_seconds()
    if seconds is not None and request.endpoint != "ops.scrape":
        # Labels stay a small, fixed set: route names, known methods, status codes.
        method = request.method if request.method in KNOWN_METHODS else "other"
        REQUEST_SECONDS.labels(request.endpoint or "unmatched", method, str(response.status_code)).observe(seconds)
    return response


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.after_request(_observe_request)
