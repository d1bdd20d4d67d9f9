"""Structured logs: one JSON object per line, each carrying the request id; one line per request.

No patient data reaches a log line from here: a request is logged by its endpoint (the route's
name), never by its path or query string (patient links carry tokens in the path), and never with
its body. Other loggers must follow the same rule; `RequestIdFilter` only adds the id.
"""

import logging
import sys
import time

from flask import g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

request_logger = logging.getLogger("portal.request")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request's id (set by portal.security.auth), or '-'."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = (g.get("request_id") if has_request_context() else None) or "-"
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         datefmt="%Y-%m-%dT%H:%M:%S%z")


def configure_logging(log_format: str, level: str) -> None:
    """The root logger writes to stderr in the chosen format (json or text); idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "portal_handler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.portal_handler = True
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)


def _start_clock():
    g.request_started = time.perf_counter()


def request_seconds() -> float | None:
    """Seconds since this request began, or None if it was answered before our clock started."""
    started = g.get("request_started")
    return time.perf_counter() - started if started is not None else None


def _log_request(response):
    duration = request_seconds()
    # The route's name, not the URL: /c/<token> must never reach a log line.
    fields = {
        "method": request.method,
        "endpoint": request.endpoint or "unmatched",
        "status": response.status_code,
        "duration_ms": round(duration * 1000, 1) if duration is not None else None,
    }
    request_logger.info("%(method)s %(endpoint)s %(status)s %(duration_ms)sms", fields, extra=fields)
    return response


def init_app(app) -> None:
    configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    # Registered before portal.security.auth's hooks: its before_request may answer (sign-in
    # redirect) and skip later ones, and its after_request sets X-Request-ID after ours run.
    app.before_request(_start_clock)
    app.after_request(_log_request)
