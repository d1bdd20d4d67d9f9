"""Friendly error pages for people, RFC 9457 problem+json for API clients. Never a stack trace."""

import logging
import sqlite3

from flask import jsonify, make_response, render_template, request
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from portal.extensions import db
from portal.sqlite_writer import WriterTurnTimeout

log = logging.getLogger(__name__)

TITLES = {
    400: _l("Bad request"),
    401: _l("Sign-in required"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Too large"),
    415: _l("Unsupported media type"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    503: _l("Unavailable for a moment"),
}
# What a person reads on an error page when the code gave no reason of its own: werkzeug's built-in
# descriptions are English only.
DETAILS = {
    400: _l("The request could not be read. Go back, reload the page and try again."),
    403: _l("You do not have access to this page."),
    404: _l("There is nothing at this address. The link may be old or mistyped."),
    405: _l("This page cannot be used that way."),
    413: _l("What you sent is too large."),
    415: _l("What you sent is in a format we do not take."),
}


def problem(status: int, title: str, detail: str, **extra):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


FHIR_ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                    406: "not-supported", 413: "too-long", 415: "not-supported", 429: "throttled",
                    503: "transient"}


def _fhir_outcome(status: int, detail: str):
    """FHIR clients get an OperationOutcome for every error, even for a route that does not exist."""
    issue = {"severity": "error", "code": FHIR_ISSUE_CODES.get(status, "exception"),
             "diagnostics": str(detail or TITLES.get(status, "Error"))}
    response = jsonify({"resourceType": "OperationOutcome", "issue": [issue]})
    response.status_code = status
    response.mimetype = "application/fhir+json"
    return response


def _render(status: int, detail: str):
    title = str(TITLES.get(status, _("Error")))
    if request.path.startswith("/fhir/"):
        return _fhir_outcome(status, detail)
    if request.path.startswith("/oauth/") and status == 400:
        # The token endpoint's clients read RFC 6749's error object (section 5.2), not an HTML page.
        return jsonify({"error": "invalid_request", "error_description": str(detail)}), 400
    if _wants_json():
        return problem(status, title, str(detail))
    return render_template("errors/error.html", code=status, title=title, detail=detail), status


def handle_http_error(exc: HTTPException):
    if exc.code == 429:
        return _render(429, _("Too many attempts. For your security, wait a few minutes and try again."))
    detail = exc.description or ""
    if detail == type(exc).description and not (_wants_json() or request.path.startswith("/fhir/")):
        detail = DETAILS.get(exc.code, "")  # werkzeug's English default: say it in the page's language
    response = _render(exc.code or 500, detail)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        # RFC 9110: a 405 lists the methods the resource has.
        response = make_response(response)
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def handle_csrf_error(exc: CSRFError):
    return _render(400, _("The form had expired or was sent from elsewhere. Reload the page and try again."))


def handle_unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _render(500, _("Something went wrong on our side. It has been logged; please try again."))


def handle_database_busy(exc: Exception):
    """A write waited its bounded time for another transaction (SQLite): 503, never a hang or a 500."""
    detail = exc.orig if isinstance(exc, OperationalError) else exc  # SQLAlchemy's wraps sqlite3's
    if not isinstance(exc, WriterTurnTimeout) and "database is locked" not in str(detail):
        return handle_unexpected(exc)
    log.warning("database busy on %s %s: %s", request.method, request.endpoint, type(exc).__name__)
    response = make_response(_render(503, _("The database is busy finishing another change. Nothing was saved; "
                                             "please try again in a moment.")))
    response.headers["Retry-After"] = "5"
    return response


def handle_data_error(exc: DataError):
    """PostgreSQL cannot store or even compare a NUL character (U+0000); SQLite can. Text that reaches a
    query holding one (a field without a text rule, a path segment, a client id) is a clear 400 in the
    caller's style, never a 500. Fields with a text rule (input_rules.PlainText) refuse it in the form first."""
    if "NUL" not in str(exc.orig):
        return handle_unexpected(exc)
    db.session.rollback()
    log.warning("NUL character refused by the database on %s %s", request.method, request.endpoint)
    return _render(400, _("Remove the NUL character (U+0000): it cannot be stored."))


def init_app(app):
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(WriterTurnTimeout, handle_database_busy)
    app.register_error_handler(OperationalError, handle_database_busy)
    app.register_error_handler(sqlite3.OperationalError, handle_database_busy)  # a BEGIN that found it locked
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
