"""Settings from environment variables, with safe local defaults.

Secrets that are not given in the environment are generated once per install into
`instance/secrets.json` (never committed), so a fresh checkout runs without set-up and
no two installs share a key.
"""

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from portal.redis_embedded import ensure_embedded_redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _flag(env, name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _new_secrets() -> dict:
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_KEYS": "k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
        "REFERRAL_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "API_TOKEN_KEY": secrets.token_urlsafe(48),
        "BOOKING_CLIENT_SECRET": secrets.token_urlsafe(32),
        "METRICS_TOKEN": secrets.token_urlsafe(32),
    }


def install_secrets(instance_path: Path) -> dict:
    """Read the per-install secrets, creating the file atomically on first use."""
    path = instance_path / "secrets.json"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        tmp = instance_path / f".secrets.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(_new_secrets(), f)
        try:
            os.link(tmp, path)  # fails if another process won the race; we then read theirs
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    stored = json.loads(path.read_text())
    if set(_new_secrets()) <= set(stored):
        return stored
    return _add_missing_secrets(instance_path, path)


def _add_missing_secrets(instance_path: Path, path: Path) -> dict:
    """An install from before a secret was added gets the new ones; under a lock, so that every
    process of the install ends up with the same values."""
    with open(instance_path / ".secrets.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = json.loads(path.read_text())
        missing = {k: v for k, v in _new_secrets().items() if k not in stored}
        if missing:
            tmp = instance_path / f".secrets.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({**stored, **missing}, f)
            os.replace(tmp, path)
        return json.loads(path.read_text())


def load_settings(env=None) -> dict:
    """Every setting the app reads, as a dict for `app.config`."""
    env = os.environ if env is None else env
    instance_path = Path(env.get("INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()
    generated = install_secrets(instance_path)

    def secret(name: str) -> str:
        return env.get(name) or generated[name]

    idle = int(env.get("SESSION_IDLE_MINUTES", "15"))
    redis_url = env.get("REDIS_URL") or ensure_embedded_redis(str(instance_path))
    sandbox_url = env.get("SANDBOX_URL", "http://127.0.0.1:5001").rstrip("/")
    return {
        "INSTANCE_PATH": str(instance_path),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'portal.db'}",
        "REDIS_URL": redis_url,
        "SECRET_KEY": secret("SECRET_KEY"),
        "DATA_KEYS": secret("DATA_KEYS"),
        "DATA_KEYS_FROM_FILE": not env.get("DATA_KEYS"),  # reports: key rotation re-reads the file
        "BLIND_INDEX_KEY": secret("BLIND_INDEX_KEY"),
        "REFERRAL_WEBHOOK_SECRET": secret("REFERRAL_WEBHOOK_SECRET"),
        "API_TOKEN_KEY": secret("API_TOKEN_KEY"),
        "API_TOKEN_TTL_SECONDS": int(env.get("API_TOKEN_TTL_SECONDS", "3600")),
        "REFERRAL_MAX_SKEW_SECONDS": int(env.get("REFERRAL_MAX_SKEW_SECONDS", "300")),
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=idle),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag(env, "SECURE_COOKIES", False),
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        "LOGIN_MAX_FAILURES": int(env.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCKOUT_MINUTES": int(env.get("LOGIN_LOCKOUT_MINUTES", "15")),
        "RATELIMIT_STORAGE_URI": _limits_uri(redis_url),
        "RATELIMIT_ENABLED": _flag(env, "RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": False,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the (idle-limited) session
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "SANDBOX_URL": sandbox_url,
        "DOS_URL": env.get("DOS_URL") or f"{sandbox_url}/dos",
        "SDS_URL": env.get("SDS_URL") or f"{sandbox_url}/sds",
        "PDS_URL": env.get("PDS_URL") or f"{sandbox_url}/pds",
        "BOOKING_CLIENT_ID": env.get("BOOKING_CLIENT_ID", "care-portal-loopback"),
        "BOOKING_CLIENT_SECRET": secret("BOOKING_CLIENT_SECRET"),
        "EXTERNAL_TIMEOUT_SECONDS": float(env.get("EXTERNAL_TIMEOUT_SECONDS", "5")),
        "PORTAL_URL": env.get("PORTAL_URL", "http://127.0.0.1:5000"),
        "QUEUE_PAGE_SIZE": int(env.get("QUEUE_PAGE_SIZE", "25")),
        "CONSULTATION_PAGE_SIZE": int(env.get("CONSULTATION_PAGE_SIZE", "25")),
        "SMS_API_KEY": env.get("SMS_API_KEY", "sandbox-sms-key"),
        "SMTP_HOST": env.get("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": int(env.get("SMTP_PORT", "2525")),
        "MAIL_FROM": env.get("MAIL_FROM", "Care Portal <no-reply@care-portal.invalid>"),
        "CHAT_KEY_SERVICE_API_KEY": env.get("CHAT_KEY_SERVICE_API_KEY", "sandbox-chat-key"),
        "VIDEO_SERVICE_API_KEY": env.get("VIDEO_SERVICE_API_KEY", "sandbox-video-key"),
        # Video participant keys are signed with the video service's secret (shared with the service).
        "VIDEO_KEY_SECRET": env.get("VIDEO_KEY_SECRET") or _derived(secret("SECRET_KEY"), "video-key-secret"),
        "VIDEO_JOIN_URL": env.get("VIDEO_JOIN_URL") or env.get("SANDBOX_URL", "http://127.0.0.1:5001") + "/video/join",
        "INSURER_API_KEY": env.get("INSURER_API_KEY", "sandbox-insurer-key"),
        "DIRECT_SIGNIN_MINUTES": int(env.get("DIRECT_SIGNIN_MINUTES", "30")),
        "PATIENT_LINK_HOURS": int(env.get("PATIENT_LINK_HOURS", "72")),
        "REPORT_KEEP_HOURS": int(env.get("REPORT_KEEP_HOURS", "24")),  # orders: insurer report files
        "PATIENT_CHECK_MAX_FAILURES": int(env.get("PATIENT_CHECK_MAX_FAILURES", "5")),
        "PATIENT_CHECK_LOCK_MINUTES": int(env.get("PATIENT_CHECK_LOCK_MINUTES", "15")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        **_checkin_settings(env, secret("SECRET_KEY")),
        # ops: json (one object per line, gunicorn.conf.py sets it) or text (readable in a terminal).
        "LOG_FORMAT": "json" if env.get("LOG_FORMAT", "text").strip().lower() == "json" else "text",
        # ops: Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>".
        "METRICS_TOKEN": secret("METRICS_TOKEN"),
        # reports: the longest period a dashboard covers in one view.
        "DASHBOARD_MAX_DAYS": int(env.get("DASHBOARD_MAX_DAYS", "366")),
    }


# --- check-in and travel pay ---
def _checkin_settings(env, secret_key: str) -> dict:
    """Check-in and travel-pay settings. The external URLs default into the sandbox at use time
    (SANDBOX_URL may be changed after start-up, as the tests do), so they are None unless given."""
    delay_hours = int(env.get("TRAVEL_CLAIM_DELAY_HOURS", "24"))
    if delay_hours not in (12, 24):
        raise ValueError("TRAVEL_CLAIM_DELAY_HOURS must be 12 or 24")
    delay_seconds = env.get("TRAVEL_CLAIM_DELAY_SECONDS")
    return {
        "TRAVEL_PAY_ENABLED": _flag(env, "TRAVEL_PAY_ENABLED", True),
        "TRAVEL_CLAIM_DELAY_HOURS": delay_hours,
        # Tests and demos only: file this many seconds after check-in instead of hours after the appointment.
        "TRAVEL_CLAIM_DELAY_SECONDS": int(delay_seconds) if delay_seconds not in (None, "") else None,
        "TRAVEL_CLAIM_RETRY_HOURS": float(env.get("TRAVEL_CLAIM_RETRY_HOURS", "1")),
        "TRAVEL_CLAIM_MAX_ATTEMPTS": int(env.get("TRAVEL_CLAIM_MAX_ATTEMPTS", "5")),
        # A claim `submitting` for longer than this lost its worker (kill -9): the sweep runs it again.
        "TRAVEL_CLAIM_STUCK_SECONDS": int(env.get("TRAVEL_CLAIM_STUCK_SECONDS", "300")),
        "TRAVEL_CLAIM_SWEEP_SECONDS": int(env.get("TRAVEL_CLAIM_SWEEP_SECONDS", "300")),
        "TRAVEL_CLAIM_JOB_TIMEOUT": int(env.get("TRAVEL_CLAIM_JOB_TIMEOUT", "120")),
        # The claims system takes a claim this many days after the appointment (told to patients who file later).
        "TRAVEL_CLAIM_FILE_WITHIN_DAYS": int(env.get("TRAVEL_CLAIM_FILE_WITHIN_DAYS", "30")),
        # Following a filed claim to its decision: its status is asked every STATUS_EVERY seconds (the
        # follower job runs every STATUS_SWEEP seconds) until decided or FOLLOW_HOURS after filing.
        "TRAVEL_CLAIM_STATUS_EVERY_SECONDS": int(env.get("TRAVEL_CLAIM_STATUS_EVERY_SECONDS", "3600")),
        "TRAVEL_CLAIM_STATUS_SWEEP_SECONDS": int(env.get("TRAVEL_CLAIM_STATUS_SWEEP_SECONDS", "300")),
        "TRAVEL_CLAIM_FOLLOW_HOURS": float(env.get("TRAVEL_CLAIM_FOLLOW_HOURS", "720")),
        # The claims-API breaker: this many failures in a row (each within WINDOW of the last) pause filing.
        "TRAVEL_CLAIM_BREAKER_FAILURES": int(env.get("TRAVEL_CLAIM_BREAKER_FAILURES", "5")),
        "TRAVEL_CLAIM_BREAKER_WINDOW_SECONDS": int(env.get("TRAVEL_CLAIM_BREAKER_WINDOW_SECONDS", "120")),
        "TRAVEL_CLAIM_BREAKER_PAUSE_SECONDS": int(env.get("TRAVEL_CLAIM_BREAKER_PAUSE_SECONDS", "300")),
        # `single` (one POST per claim, the default) or `steps` (the VA's sequence against BTSSS_API_URL).
        "TRAVEL_CLAIMS_ADAPTER": _claims_adapter(env.get("TRAVEL_CLAIMS_ADAPTER", "single")),
        "BTSSS_API_URL": env.get("BTSSS_API_URL") or None,
        "TRAVEL_CLIENT_NUMBER": env.get("TRAVEL_CLIENT_NUMBER", "care-portal"),
        "TOKEN_SERVICE_URL": env.get("TOKEN_SERVICE_URL") or None,
        "CLAIMS_API_URL": env.get("CLAIMS_API_URL") or None,
        "CLAIMS_PORTAL_URL": env.get("CLAIMS_PORTAL_URL") or None,
        "TRAVEL_CLIENT_ID": env.get("TRAVEL_CLIENT_ID", "care-portal"),
        "TRAVEL_CLIENT_SECRET": env.get("TRAVEL_CLIENT_SECRET") or _derived(secret_key, "travel-client-secret"),
        "CHECKIN_OPENS_MINUTES_BEFORE": int(env.get("CHECKIN_OPENS_MINUTES_BEFORE", "45")),
        "CHECKIN_CLOSES_MINUTES_AFTER": int(env.get("CHECKIN_CLOSES_MINUTES_AFTER", "15")),
        "CHECKIN_LINK_HOURS": int(env.get("CHECKIN_LINK_HOURS", "48")),
        # Links are not texted before this local hour (no SMS at midnight).
        "CHECKIN_LINKS_FROM_HOUR": int(env.get("CHECKIN_LINKS_FROM_HOUR", "7")),
        "CHECKIN_LINK_SWEEP_SECONDS": int(env.get("CHECKIN_LINK_SWEEP_SECONDS", "900")),
    }
def _claims_adapter(value: str) -> str:
    value = value.strip().lower()
    if value not in ("single", "steps"):
        raise ValueError("TRAVEL_CLAIMS_ADAPTER must be single or steps")
    return value
# --- end check-in and travel pay ---


def _derived(master: str, purpose: str) -> str:
    """A per-install secret derived from another, so older installs need no new secrets file entry."""
    return hmac.new(master.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def _limits_uri(redis_url: str) -> str:
    """flask-limiter (the `limits` package) spells a unix-socket Redis as redis+unix://."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url
