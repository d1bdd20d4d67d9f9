"""The CSRF token pages carry (the template global `csrf_token()`): Flask-WTF's, but signed once a minute per
session by each process rather than on every page.

Signing (a serializer, a key derivation, an HMAC, base64) was ~170 Python calls and ~50 µs of every page with a
form or an htmx header. The token is the same as Flask-WTF's — the session's own random value, signed with the
same key and salt — and CSRFProtect checks it as before; handed out again within the minute, its timestamp is
at most a minute older, which changes nothing while `WTF_CSRF_TIME_LIMIT` is None (the session's idle limit
bounds it) and a minute at most otherwise.
"""

import time

from flask import current_app, g, session
from flask_wtf.csrf import generate_csrf

FIELD = "csrf_token"  # Flask-WTF's default WTF_CSRF_FIELD_NAME: the session's key and g's


def csrf_token() -> str:
    token = g.get(FIELD)
    if token is not None:
        return token
    raw = session.get(FIELD)
    if not isinstance(raw, str):
        return generate_csrf()  # the session's first token: Flask-WTF makes its random value
    minute = int(time.time() // 60)
    kept = current_app.extensions.get("portal_csrf_tokens")
    if kept is None or kept[0] != minute:  # one minute's tokens at a time: the cache stays small
        kept = current_app.extensions["portal_csrf_tokens"] = (minute, {})
    key = (raw, current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key)
    token = kept[1].get(key)
    if token is None:
        token = kept[1][key] = generate_csrf()
    else:
        setattr(g, FIELD, token)  # forms built later in this request (Flask-WTF's generate_csrf) reuse it
    return token


def init_app(app) -> None:
    """After CSRFProtect.init_app: its template global and context processor both name `csrf_token`."""
    if app.config.get("WTF_CSRF_FIELD_NAME", FIELD) == FIELD:
        app.jinja_env.globals["csrf_token"] = csrf_token
        app.context_processor(lambda: {"csrf_token": csrf_token})
