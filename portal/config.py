"""Settings from environment variables, with safe local defaults, and the production profile.

Two profiles (`profile()` decides which):

- development: secrets that are not given in the environment are generated once per install into
  `instance/secrets.json` (never committed), and Redis is the embedded server, so a fresh checkout runs
  without set-up and no two installs share a key. `make run`, the test suite and CI use it.
- production: nothing is generated. Every host must be given the same secrets, a Redis server, Secure
  cookies, an https external URL and real mail and SMS settings; otherwise the app refuses to start
  with one message that lists every problem and how to fix it (`production_problems`), and
  `flask --app wsgi check-config` prints the same list.
"""

import base64
import fcntl
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask.cli import NoAppException

from portal.redis_embedded import ensure_embedded_redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _flag(env, name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# --- production profile ---
PROFILES = ("production", "development")

# The secrets `_new_secrets` would make on a host that lacks them, and why each must be shared.
SHARED_SECRETS = {
    "SECRET_KEY": ("signs session cookies and CSRF tokens: hosts with different keys sign each other's "
                   "sessions out", "Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"),
    "DATA_KEYS": ("seals patient data: a record sealed on one host could not be opened on another",
                  "Make one with: python3 -c 'import base64, secrets; "
                  "print(\"k1:\" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'"),
    "BLIND_INDEX_KEY": ("finds patients by national id: another key finds nobody",
                        "Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"),
    "REFERRAL_WEBHOOK_SECRET": ("checks the referral system's signatures: it signs with one secret",
                                "Use the value agreed with the referral system."),
    "API_TOKEN_KEY": ("signs FHIR access tokens: a token from one host would be refused by another",
                      "Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"),
    "BOOKING_CLIENT_SECRET": ("our client secret at other providers' token endpoints",
                              "Use the secret those providers issued to us."),
    "METRICS_TOKEN": ("the bearer token Prometheus sends to /metrics on every host",
                      "Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"),
}
SMTP_SECURITY_MODES = ("none", "starttls", "tls")
# The staff roles (security.models takes them from here), so TWO_FACTOR_REQUIRED_ROLES can be checked
# before the app loads; partner roles sign in at their organisation's provider, which owns their second step.
STAFF_ROLES = ("secretary", "doctor", "admin", "reporting")
PARTNER_ROLES = ("partner_admin", "scheduler", "viewer")
# ASVS 3.3.2 (level 2): re-authentication at least every 12 hours and after at most 30 minutes idle.
SESSION_MAX_HOURS_LIMIT = 12
SESSION_IDLE_MINUTES_LIMIT = 30
SMS_PROVIDERS = ("gateway", "notify", "twilio")
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Development defaults that the sandbox accepts (it plays Notify and Twilio with these credentials).
SANDBOX_NOTIFY_API_KEY = "care_portal_sandbox-0c7d2a5e-3d4b-4f6a-9b8c-1a2b3c4d5e6f-5f1e9c2a-7b3d-4c8e-a1f2-6d7e8f9a0b1c"
SANDBOX_NOTIFY_TEMPLATE_ID = "2d1e5a77-2c1f-4d0e-9d6a-0f5e4c3b2a19"
SANDBOX_TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "5a" * 16, "TWILIO_AUTH_TOKEN": "sandbox-twilio-token",
                  "TWILIO_FROM": "+15005550006"}


class UnsafeConfiguration(NoAppException):
    """The production profile is asked for and something would be unsafe. A NoAppException, so the
    flask command line prints the message without a traceback (gunicorn prints it with one)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems_message(problems))


def problems_message(problems: list[str]) -> str:
    lines = [f"Care Portal refuses to start in the production profile: {len(problems)} problem(s).", ""]
    lines += [f"{number}. {problem}" for number, problem in enumerate(problems, 1)]
    lines += ["", "Check again with `flask --app wsgi check-config` (docs/deploy.md lists every setting)."]
    return "\n".join(lines)


def profile(env=None) -> str:
    """`PORTAL_ENV` when set (production or development); unset, production exactly when
    `DATABASE_URL` names a database other than SQLite: a shared database means several hosts."""
    env = os.environ if env is None else env
    chosen = (env.get("PORTAL_ENV") or "").strip().lower()
    if chosen:
        return chosen
    database = (env.get("DATABASE_URL") or "").strip()
    return "production" if database and not database.startswith("sqlite") else "development"


def production_problems(env=None) -> list[str]:
    """Everything that would be unsafe on a host of a production install, each with its fix.
    Reads the environment only: no file is written, no server is started."""
    env = os.environ if env is None else env
    problems = []
    chosen = profile(env)
    if chosen not in PROFILES:
        problems.append(f"PORTAL_ENV={env.get('PORTAL_ENV')!r} is not a profile: use production or development.")
    for name, (why, how) in SHARED_SECRETS.items():
        if not env.get(name):
            problems.append(f"{name} is not set, so this host would generate its own ({why}). "
                            f"Set the same value on every host from your secret store. {how}")
    if env.get("DATA_KEYS"):
        try:
            _check_data_keys(env["DATA_KEYS"])
        except ValueError as exc:
            problems.append(f"DATA_KEYS is malformed: {exc}.")
    if not env.get("REDIS_URL"):
        problems.append("REDIS_URL is not set, so this host would start its own embedded Redis and its jobs, "
                        "rate limits and sign-in lock-outs would not be shared. Set "
                        "REDIS_URL=redis://<host>:6379/0 (or rediss:// for TLS) on every host.")
    if not _flag(env, "SECURE_COOKIES", True):
        problems.append("SECURE_COOKIES is off, so browsers would send the session cookie over plain http. "
                        "Remove SECURE_COOKIES (production sets it) or set SECURE_COOKIES=1, and serve over https.")
    portal_url = env.get("PORTAL_URL") or ""
    if not portal_url.startswith("https://"):
        problems.append(f"PORTAL_URL={portal_url or '(not set)'} is not an https address, and patients' links "
                        "are built from it. Set PORTAL_URL=https://<the address people use>.")
    problems += _session_problems(env) + _mail_problems(env) + _sms_problems(env)
    return problems


def _number(env, name: str, default: str) -> float | None:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _session_problems(env) -> list[str]:
    """Session lifetimes within ASVS level 2, and two-factor roles that exist."""
    problems = []
    idle = _number(env, "SESSION_IDLE_MINUTES", "15")
    if idle is None or idle != int(idle) or not 1 <= idle <= SESSION_IDLE_MINUTES_LIMIT:
        problems.append(f"SESSION_IDLE_MINUTES={env.get('SESSION_IDLE_MINUTES')!r} is not a whole number of minutes "
                        f"from 1 to {SESSION_IDLE_MINUTES_LIMIT}: an unattended screen would stay signed in. "
                        "Set it to 15 (the default) or less.")
        idle = None
    hours = _number(env, "SESSION_MAX_HOURS", "12")
    if hours is None or not 0 < hours <= SESSION_MAX_HOURS_LIMIT:
        problems.append(f"SESSION_MAX_HOURS={env.get('SESSION_MAX_HOURS')!r} is not a number of hours above 0 and "
                        f"at most {SESSION_MAX_HOURS_LIMIT}: people must sign in again at least twice a day. "
                        "Set it to 12 (the default) or less.")
    elif idle is not None and hours * 60 < idle:
        problems.append(f"SESSION_MAX_HOURS={env.get('SESSION_MAX_HOURS')} ends every session before the idle "
                        f"timeout (SESSION_IDLE_MINUTES={int(idle)}) could: staff would be signed out in the "
                        "middle of their work. Give at least the idle timeout, e.g. SESSION_MAX_HOURS=12.")
    roles = [r.strip() for r in (env.get("TWO_FACTOR_REQUIRED_ROLES") or "").split(",") if r.strip()]
    for role in roles:
        if role in PARTNER_ROLES:
            problems.append(f"TWO_FACTOR_REQUIRED_ROLES names {role!r}, a partner role: partner users sign in at "
                            "their organisation's identity provider, which decides their second step. "
                            f"Name staff roles only ({', '.join(STAFF_ROLES)}).")
        elif role not in STAFF_ROLES:
            problems.append(f"TWO_FACTOR_REQUIRED_ROLES names {role!r}, which is not a staff role, so the role meant "
                            f"would sign in without a code. Use {', '.join(STAFF_ROLES)} "
                            "(comma-separated; the default is admin,doctor,reporting).")
    return problems


def _check_data_keys(spec: str) -> None:
    seen = set()
    for part in spec.split(","):
        kid, _, encoded = part.strip().partition(":")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            key = b""
        if not kid or len(key) != 32:
            raise ValueError("each entry must be '<id>:<base64 of 32 bytes>', separated by commas")
        if kid in seen:
            raise ValueError(f"the key id {kid!r} is used twice")
        seen.add(kid)


def _mail_problems(env) -> list[str]:
    problems = []
    if not env.get("SMTP_HOST"):
        problems.append("SMTP_HOST is not set, so e-mail to patients would go to 127.0.0.1:2525 (the sandbox). "
                        "Set SMTP_HOST and SMTP_PORT of your mail service.")
    if not env.get("MAIL_FROM"):
        problems.append("MAIL_FROM is not set. Set it to the sender patients see, e.g. "
                        "MAIL_FROM='Clinic <no-reply@clinic.example>'.")
    security = (env.get("SMTP_SECURITY") or "none").strip().lower()
    if security not in SMTP_SECURITY_MODES:
        problems.append(f"SMTP_SECURITY={security!r} is not one of {', '.join(SMTP_SECURITY_MODES)}.")
    if bool(env.get("SMTP_USERNAME")) != bool(env.get("SMTP_PASSWORD")):
        problems.append("Only one of SMTP_USERNAME and SMTP_PASSWORD is set: set both, or neither for a relay "
                        "that needs no sign-in.")
    elif env.get("SMTP_USERNAME") and security == "none":
        problems.append("SMTP_USERNAME and SMTP_PASSWORD are set but SMTP_SECURITY is none: the password would "
                        "cross the network in the clear. Set SMTP_SECURITY=starttls (port 587) or tls (port 465).")
    return problems


def _sms_problems(env) -> list[str]:
    provider = (env.get("SMS_PROVIDER") or "gateway").strip().lower()
    if provider not in SMS_PROVIDERS:
        return [f"SMS_PROVIDER={provider!r} is not one of {', '.join(SMS_PROVIDERS)}."]
    needed = {
        "gateway": [("SMS_GATEWAY_URL", "the SMS gateway's address"), ("SMS_API_KEY", "our key at the SMS gateway")],
        "notify": [("NOTIFY_API_KEY", "an API key from GOV.UK Notify's 'API integration' page"),
                   ("NOTIFY_SMS_TEMPLATE_ID", "the id of a text message template whose content is ((body))")],
        "twilio": [("TWILIO_ACCOUNT_SID", "the account's SID (AC…)"), ("TWILIO_AUTH_TOKEN", "its auth token")],
    }[provider]
    problems = [f"SMS_PROVIDER is {provider}{' (the default)' if not env.get('SMS_PROVIDER') else ''} but {name} "
                f"is not set, so text messages could not be sent. Set {name}: {what}; or choose another "
                f"SMS_PROVIDER ({', '.join(SMS_PROVIDERS)})." for name, what in needed if not env.get(name)]
    if provider == "twilio" and not (env.get("TWILIO_FROM") or env.get("TWILIO_MESSAGING_SERVICE_SID")):
        problems.append("SMS_PROVIDER is twilio but neither TWILIO_FROM (a number of the account) nor "
                        "TWILIO_MESSAGING_SERVICE_SID (MG…) is set: Twilio needs a sender.")
    key = env.get("NOTIFY_API_KEY") or ""
    if provider == "notify" and key and not re.fullmatch(rf".+-{UUID}-{UUID}", key):
        problems.append("NOTIFY_API_KEY is not a Notify API key (<key name>-<service id>-<secret>): copy it "
                        "whole from Notify.")
    return problems


def _choice(env, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset); anything else is refused at start-up."""
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


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
    """Every setting the app reads, as a dict for `app.config`. In the production profile nothing is
    generated or started: unsafe settings raise UnsafeConfiguration first."""
    env = os.environ if env is None else env
    instance_path = Path(env.get("INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()
    production = profile(env) != "development"  # an unknown profile is refused as production
    if production and (problems := production_problems(env)):
        raise UnsafeConfiguration(problems)
    generated = {} if production else install_secrets(instance_path)

    def secret(name: str) -> str:
        return env.get(name) or generated[name]

    idle = int(env.get("SESSION_IDLE_MINUTES", "15"))
    redis_url = env.get("REDIS_URL") or ensure_embedded_redis(str(instance_path))
    sandbox_url = env.get("SANDBOX_URL", "http://127.0.0.1:5001").rstrip("/")
    return {
        "INSTANCE_PATH": str(instance_path),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'portal.db'}",
        "REDIS_URL": redis_url,
        # Every Redis client gives up on a connect or an answer after these (web requests never hang on Redis).
        "REDIS_CONNECT_TIMEOUT_SECONDS": float(env.get("REDIS_CONNECT_TIMEOUT_SECONDS", "1")),
        "REDIS_READ_TIMEOUT_SECONDS": float(env.get("REDIS_READ_TIMEOUT_SECONDS", "2")),
        # SQLite only: the longest a write waits for another transaction to finish before a 503.
        "SQLITE_WRITE_WAIT_SECONDS": float(env.get("SQLITE_WRITE_WAIT_SECONDS", "15")),
        "SECRET_KEY": secret("SECRET_KEY"),
        "DATA_KEYS": secret("DATA_KEYS"),
        "DATA_KEYS_FROM_FILE": not env.get("DATA_KEYS"),  # reports: key rotation re-reads the file
        "BLIND_INDEX_KEY": secret("BLIND_INDEX_KEY"),
        "REFERRAL_WEBHOOK_SECRET": secret("REFERRAL_WEBHOOK_SECRET"),
        "API_TOKEN_KEY": secret("API_TOKEN_KEY"),
        "API_TOKEN_TTL_SECONDS": int(env.get("API_TOKEN_TTL_SECONDS", "3600")),
        "REFERRAL_MAX_SKEW_SECONDS": int(env.get("REFERRAL_MAX_SKEW_SECONDS", "300")),
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=idle),
        # Absolute lifetime of a signed-in session, however active (a decimal is fine: tests use seconds).
        "SESSION_MAX_HOURS": float(env.get("SESSION_MAX_HOURS", "12")),
        # Roles that must pass a second step (TOTP) at sign-in; an empty value requires it of nobody.
        "TWO_FACTOR_REQUIRED_ROLES": frozenset(
            role.strip() for role in env.get("TWO_FACTOR_REQUIRED_ROLES", "admin,doctor,reporting").split(",")
            if role.strip()),
        # The cookie is re-signed and sent when the session changes, not on every request: activity moves
        # `last_active` on at most once a minute (portal.security.auth._note_activity), which renews it.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PORTAL_ENV": "production" if production else "development",
        "SESSION_COOKIE_SECURE": _flag(env, "SECURE_COOKIES", production),
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        "LOGIN_MAX_FAILURES": int(env.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCKOUT_MINUTES": int(env.get("LOGIN_LOCKOUT_MINUTES", "15")),
        "RATELIMIT_STORAGE_URI": _limits_uri(redis_url),
        "RATELIMIT_STORAGE_OPTIONS": {
            "socket_connect_timeout": float(env.get("REDIS_CONNECT_TIMEOUT_SECONDS", "1")),
            "socket_timeout": float(env.get("REDIS_READ_TIMEOUT_SECONDS", "2")),
        },
        # Redis down: limits are counted in each process's memory until it is back, not dropped.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_ENABLED": _flag(env, "RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": False,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the (idle-limited) session
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "SANDBOX_URL": sandbox_url,
        "DOS_URL": env.get("DOS_URL") or f"{sandbox_url}/dos",
        "SDS_URL": env.get("SDS_URL") or f"{sandbox_url}/sds",
        "PDS_URL": env.get("PDS_URL") or f"{sandbox_url}/pds",
        "BOOKING_CLIENT_ID": env.get("BOOKING_CLIENT_ID", "care-portal-loopback"),
        # Our ASID, sent as Ssp-From when booking at another service (the NHS Booking API's proxy headers).
        "BOOKING_ASID": env.get("BOOKING_ASID", "200000000000"),
        "BOOKING_CLIENT_SECRET": secret("BOOKING_CLIENT_SECRET"),
        "EXTERNAL_TIMEOUT_SECONDS": float(env.get("EXTERNAL_TIMEOUT_SECONDS", "5")),
        "PORTAL_URL": env.get("PORTAL_URL", "http://127.0.0.1:5000"),
        "QUEUE_PAGE_SIZE": int(env.get("QUEUE_PAGE_SIZE", "25")),
        "CONSULTATION_PAGE_SIZE": int(env.get("CONSULTATION_PAGE_SIZE", "25")),
        "SMS_API_KEY": env.get("SMS_API_KEY", "sandbox-sms-key"),
        "SMS_GATEWAY_URL": env.get("SMS_GATEWAY_URL") or None,  # None: the sandbox's, at use time
        **_sms_settings(env, production),
        "SMTP_HOST": env.get("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": int(env.get("SMTP_PORT", "2525")),
        "SMTP_SECURITY": _choice(env, "SMTP_SECURITY", SMTP_SECURITY_MODES),
        "SMTP_USERNAME": env.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or None,
        "SMTP_CA_FILE": env.get("SMTP_CA_FILE") or None,  # a private CA's bundle; else the system's
        "MAIL_FROM": env.get("MAIL_FROM", "Care Portal <no-reply@care-portal.invalid>"),
        "CHAT_KEY_SERVICE_API_KEY": env.get("CHAT_KEY_SERVICE_API_KEY", "sandbox-chat-key"),
        "VIDEO_SERVICE_API_KEY": env.get("VIDEO_SERVICE_API_KEY", "sandbox-video-key"),
        # Video participant keys are signed with the video service's secret (shared with the service).
        "VIDEO_KEY_SECRET": env.get("VIDEO_KEY_SECRET") or _derived(secret("SECRET_KEY"), "video-key-secret"),
        # Chat JWTs' `scopes` (comma-separated strings): the chat key service's example carries ["1"].
        "CHAT_TOKEN_SCOPES": [v.strip() for v in env.get("CHAT_TOKEN_SCOPES", "1").split(",") if v.strip()],
        # The `u` claim of video keys: the room's label, the same for doctor and patient (never a name).
        "VIDEO_ROOM_LABEL": env.get("VIDEO_ROOM_LABEL", "medisinsk arbeider"),
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
        **(region := _region_settings(env, production)),
        **_follow_up_settings(env, region["PORTAL_TIME_ZONE"]),
    }


def _follow_up_settings(env, install_zone: str) -> dict:
    """Follow-ups booked from a consultation, and the days the install counts by.

    CLINIC_TIME_ZONE is the zone whose calendar days the install counts by: a follow-up's not-before day
    begins at its midnight, the dashboards' days and the insurer report's wall clock are its. Unset, it is the
    install's zone (PORTAL_TIME_ZONE, itself the region's), so one setting serves an install in one zone;
    before, it was Europe/Oslo whatever the region, and a London install counted Oslo's days."""
    zone = (env.get("CLINIC_TIME_ZONE") or install_zone).strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"CLINIC_TIME_ZONE must be an IANA time zone such as Europe/Oslo, not {zone!r}") from None
    return {
        "CLINIC_TIME_ZONE": zone,
        "FOLLOW_UP_MAX_DAYS": int(env.get("FOLLOW_UP_MAX_DAYS", "366")),
        # The sweep that moves due follow-ups into the queue when their own job was lost.
        "FOLLOW_UP_SWEEP_SECONDS": int(env.get("FOLLOW_UP_SWEEP_SECONDS", "300")),
    }


@dataclass(frozen=True)
class Region:
    """What a country the portal serves means for it. One install has a default (PORTAL_REGION); each
    clinic (location) may be in another."""

    code: str          # ISO 3166-1 alpha-2; also the phone-number region (phonenumbers) of local numbers
    language: str      # patients are spoken to in this when nobody has said otherwise
    time_zone: str     # IANA
    currency: str      # ISO 4217
    national_id: str   # the scheme of patients.national_id_kind: fodselsnummer | nhs | icn


REGIONS = {
    "NO": Region("NO", "nb", "Europe/Oslo", "NOK", "fodselsnummer"),
    "GB": Region("GB", "en", "Europe/London", "GBP", "nhs"),
    "US": Region("US", "en", "America/New_York", "USD", "icn"),
}
DEFAULT_REGION = "GB"


def _region_settings(env, production: bool) -> dict:
    """PORTAL_REGION (NO, GB or US) gives the install its defaults: language, time zone, currency, phone
    numbers and national id. PORTAL_LANGUAGE and PORTAL_TIME_ZONE override one default each."""
    code = (env.get("PORTAL_REGION") or DEFAULT_REGION).strip().upper()
    if code not in REGIONS:
        raise ValueError(f"PORTAL_REGION must be one of {', '.join(REGIONS)}, not {code!r}")
    region = REGIONS[code]
    language = (env.get("PORTAL_LANGUAGE") or region.language).strip().lower()
    if language not in ("nb", "en"):
        raise ValueError(f"PORTAL_LANGUAGE must be nb or en, not {language!r}")
    time_zone = (env.get("PORTAL_TIME_ZONE") or region.time_zone).strip()
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"PORTAL_TIME_ZONE must be an IANA time zone such as Europe/Oslo, not {time_zone!r}") \
            from None
    return {
        "PORTAL_REGION": code,
        "PORTAL_LANGUAGE": language,
        "PORTAL_TIME_ZONE": time_zone,
        "PORTAL_CURRENCY": region.currency,
        # Development and tests: the pseudo-locale en-XA (every message accented) may be chosen.
        "PSEUDO_LOCALE": not production and _flag(env, "PSEUDO_LOCALE", True),
    }


def _sms_settings(env, production: bool) -> dict:
    """SMS_PROVIDER and its provider's settings. Base URLs left unset resolve at use time (the real
    provider in production, the sandbox in development); credentials default to the sandbox's in development."""
    local = {} if production else {"NOTIFY_API_KEY": SANDBOX_NOTIFY_API_KEY,
                                   "NOTIFY_SMS_TEMPLATE_ID": SANDBOX_NOTIFY_TEMPLATE_ID, **SANDBOX_TWILIO}
    names = ("NOTIFY_API_KEY", "NOTIFY_SMS_TEMPLATE_ID", "NOTIFY_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
             "TWILIO_FROM", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_BASE_URL")
    return {"SMS_PROVIDER": _choice(env, "SMS_PROVIDER", SMS_PROVIDERS),
            **{name: env.get(name) or local.get(name) for name in names}}


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
        # The outbox sweep: every this many seconds, messages pending at least this long that no job holds.
        "NOTIFICATION_SWEEP_SECONDS": int(env.get("NOTIFICATION_SWEEP_SECONDS", "60")),
        "TRAVEL_CLAIM_JOB_TIMEOUT": int(env.get("TRAVEL_CLAIM_JOB_TIMEOUT", "120")),
        # The sweep hands due claims to jobs this many at a time (a backlog); 1: a job per claim.
        "TRAVEL_CLAIM_BATCH_SIZE": max(1, int(env.get("TRAVEL_CLAIM_BATCH_SIZE", "50"))),
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


@click.command("check-config")
@click.option("--production", "as_production", is_flag=True,
              help="Check as if PORTAL_ENV=production, whatever this host's profile.")
def check_config_command(as_production):
    """Check this host's settings for the production profile; exit status 1 listing every problem.

    A plugin command (pyproject's flask.commands entry point), so it runs when the app refuses to load."""
    env = dict(os.environ, PORTAL_ENV="production") if as_production else os.environ
    chosen = profile(env)
    if chosen == "development":
        click.echo("profile: development (generated secrets and the embedded Redis are allowed). "
                   "Set PORTAL_ENV=production, or pass --production, to check a production host.")
        return
    problems = production_problems(env)
    if not problems:
        try:
            load_settings(env)
        except (ValueError, KeyError) as exc:  # a number that is not one, a delay that is not 12 or 24
            problems = [f"a setting cannot be read: {exc}"]
    if problems:
        click.echo(problems_message(problems), err=True)
        sys.exit(1)
    click.echo("profile: production; every check passed")
