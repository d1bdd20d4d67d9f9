"""Production gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`. Every value can be
overridden from the environment (GUNICORN_*), so one file serves every host."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
# A second thread lets a worker keep serving while a request waits on a slow adapter (chat, video).
# Not more: requests are CPU-bound, threads of one worker share one interpreter lock, and a worker
# holding more keep-alive connections than its siblings makes their clients wait while other CPUs idle.
# On 2 CPUs, 2 threads instead of 4 took the doctors' queue p99 from ~29 to ~20 ms (bench/consultations.py).
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound. Not too often: a worker's
# start-up costs about a second of CPU, which a small host feels in its slowest responses.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
# Behind a load balancer that sets X-Forwarded-*; list its addresses in FORWARDED_ALLOW_IPS.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No gunicorn access log: it can only print raw paths, and patient links carry tokens in theirs
# (/c/<token>). The app logs each request itself as JSON by route name, with its request id.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
preload_app = False  # each worker opens its own database and Redis connections

# The app's own logs are JSON lines in production (LOG_FORMAT=text to read them by eye).
os.environ.setdefault("LOG_FORMAT", "json")
# gunicorn's own messages (worker boots, timeouts) as JSON lines too, one stream for the collector.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.ops.request_log.json_formatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    # The app adds its own root handler (portal.ops.request_log); gunicorn's default would print twice.
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}

# gunicorn 25+ opens a control socket (for `gunicornc`), by default one path per user ($HOME/.gunicorn):
# two gunicorns on one machine would take it from each other. Each install keeps its own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET",
                                os.path.join(os.environ.get("INSTANCE_PATH", "instance"), "gunicorn.ctl"))

# Prometheus multiprocess mode: every worker writes its counters to files in this folder and a
# scrape of /metrics adds them up. It must be set before a worker imports prometheus_client.
PROMETHEUS_DIR = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(os.environ.get("INSTANCE_PATH", "instance"), "prometheus"))
os.makedirs(PROMETHEUS_DIR, exist_ok=True)


def on_starting(server):
    """Refuse unsafe production settings before any worker starts (gunicorn prints the RuntimeError's
    message and exits 1). Files left from a previous run would be added to this run's counts: start empty."""
    import shutil

    from portal.config import problems_message, production_problems, profile

    if profile() != "development" and (problems := production_problems()):
        raise RuntimeError(problems_message(problems))

    shutil.rmtree(PROMETHEUS_DIR, ignore_errors=True)
    os.makedirs(PROMETHEUS_DIR, exist_ok=True)


def child_exit(server, worker):
    """A recycled worker's gauges are dropped; its counters stay summed in the files."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """The loaded app (~180k objects: mappers, templates, code lists) never becomes garbage. Freeze it
    out of the collector's sight, or each full collection walks all of it (about 40 ms on a small host,
    felt as the slowest responses)."""
    import gc

    gc.collect()  # what is garbage already goes first; frozen objects are never collected
    gc.freeze()
