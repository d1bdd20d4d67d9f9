"""The production profile: which settings make a host refuse to start, and `check-config`.

The rule: PORTAL_ENV decides when set; unset, a DATABASE_URL other than SQLite means production.
The suite itself runs as development (tests/conftest.py), so these tests give the environment explicitly.
"""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.config import UnsafeConfiguration, check_config_command, load_settings, profile

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
TEMPLATE = "2d1e5a77-2c1f-4d0e-9d6a-0f5e4c3b2a19"
NOTIFY_KEY = f"portal-{TEMPLATE}-{TEMPLATE}"
GOOD = {
    "PORTAL_ENV": "production",
    "DATABASE_URL": "postgresql+psycopg://portal:pw@db.internal/portal",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "PORTAL_URL": "https://portal.clinic.example",
    "SECRET_KEY": "s" * 48, "DATA_KEYS": f"k2:{KEY},k1:{KEY}", "BLIND_INDEX_KEY": "b" * 32,
    "REFERRAL_WEBHOOK_SECRET": "r" * 32, "API_TOKEN_KEY": "a" * 48, "BOOKING_CLIENT_SECRET": "c" * 32,
    "METRICS_TOKEN": "m" * 32,
    "SMTP_HOST": "smtp.clinic.example", "SMTP_PORT": "587", "SMTP_SECURITY": "starttls",
    "SMTP_USERNAME": "portal", "SMTP_PASSWORD": "mail-password", "MAIL_FROM": "Clinic <no-reply@clinic.example>",
    "SMS_GATEWAY_URL": "https://sms.clinic.example", "SMS_API_KEY": "sms-key",
    "SECURE_COOKIES": None, "SMS_PROVIDER": None, "NOTIFY_API_KEY": None, "NOTIFY_SMS_TEMPLATE_ID": None,
    "TWILIO_ACCOUNT_SID": None, "TWILIO_AUTH_TOKEN": None, "TWILIO_FROM": None, "TWILIO_MESSAGING_SERVICE_SID": None,
    "SESSION_IDLE_MINUTES": None, "SESSION_MAX_HOURS": None, "TWO_FACTOR_REQUIRED_ROLES": None,
}


def production_env(**changes) -> dict:
    """GOOD with `changes` (None unsets); every other setting this module checks is unset."""
    return {**GOOD, **changes}


def check(env: dict):
    return CliRunner().invoke(check_config_command, env=env)


def test_a_complete_production_host_passes_check_config():
    result = check(production_env())
    assert result.exit_code == 0, result.output
    assert "profile: production; every check passed" in result.output


REFUSALS = {
    "secret key would be generated": ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    "data keys would be generated": ({"DATA_KEYS": None}, "DATA_KEYS is not set"),
    "data keys malformed": ({"DATA_KEYS": "k1:c2hvcnQ="}, "DATA_KEYS is malformed"),
    "data key id twice": ({"DATA_KEYS": f"k1:{KEY},k1:{KEY}"}, "the key id 'k1' is used twice"),
    "blind index key would be generated": ({"BLIND_INDEX_KEY": None}, "BLIND_INDEX_KEY is not set"),
    "webhook secret would be generated": ({"REFERRAL_WEBHOOK_SECRET": None}, "REFERRAL_WEBHOOK_SECRET is not set"),
    "API token key would be generated": ({"API_TOKEN_KEY": None}, "API_TOKEN_KEY is not set"),
    "booking client secret would be generated": ({"BOOKING_CLIENT_SECRET": None}, "BOOKING_CLIENT_SECRET is not set"),
    "metrics token would be generated": ({"METRICS_TOKEN": None}, "METRICS_TOKEN is not set"),
    "REDIS_URL unset": ({"REDIS_URL": None}, "REDIS_URL is not set"),
    "cookies not Secure": ({"SECURE_COOKIES": "0"}, "SECURE_COOKIES is off"),
    "external URL http": ({"PORTAL_URL": "http://portal.clinic.example"}, "PORTAL_URL=http://portal.clinic.example "
                                                                           "is not an https address"),
    "external URL unset": ({"PORTAL_URL": None}, "PORTAL_URL=(not set) is not an https address"),
    "SMTP host missing": ({"SMTP_HOST": None}, "SMTP_HOST is not set"),
    "mail sender missing": ({"MAIL_FROM": None}, "MAIL_FROM is not set"),
    "SMTP password in the clear": ({"SMTP_SECURITY": "none"}, "the password would cross the network in the clear"),
    "SMTP password without user": ({"SMTP_USERNAME": None}, "Only one of SMTP_USERNAME and SMTP_PASSWORD is set"),
    "SMTP security unknown": ({"SMTP_SECURITY": "ssl"}, "SMTP_SECURITY='ssl' is not one of none, starttls, tls"),
    "SMS gateway missing": ({"SMS_GATEWAY_URL": None}, "SMS_GATEWAY_URL is not set"),
    "SMS key missing": ({"SMS_API_KEY": None}, "SMS_API_KEY is not set"),
    "SMS provider unknown": ({"SMS_PROVIDER": "pigeon"}, "SMS_PROVIDER='pigeon' is not one of gateway, notify, twilio"),
    "Notify key missing": ({"SMS_PROVIDER": "notify", "NOTIFY_SMS_TEMPLATE_ID": TEMPLATE},
                           "SMS_PROVIDER is notify but NOTIFY_API_KEY is not set"),
    "Notify key malformed": ({"SMS_PROVIDER": "notify", "NOTIFY_SMS_TEMPLATE_ID": TEMPLATE,
                              "NOTIFY_API_KEY": "just-a-secret"}, "NOTIFY_API_KEY is not a Notify API key"),
    "Notify template missing": ({"SMS_PROVIDER": "notify", "NOTIFY_API_KEY": NOTIFY_KEY},
                                "SMS_PROVIDER is notify but NOTIFY_SMS_TEMPLATE_ID is not set"),
    "Twilio token missing": ({"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                              "TWILIO_FROM": "+15005550006"},
                             "SMS_PROVIDER is twilio but TWILIO_AUTH_TOKEN is not set"),
    "Twilio sender missing": ({"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                               "TWILIO_AUTH_TOKEN": "t"}, "Twilio needs a sender"),
    "profile misspelt": ({"PORTAL_ENV": "prod"}, "PORTAL_ENV='prod' is not a profile"),
    "absolute lifetime past 12 hours": ({"SESSION_MAX_HOURS": "24"}, "SESSION_MAX_HOURS='24' is not a number of hours "
                                                                     "above 0 and at most 12"),
    "absolute lifetime zero": ({"SESSION_MAX_HOURS": "0"}, "SESSION_MAX_HOURS='0' is not a number of hours"),
    "absolute lifetime negative": ({"SESSION_MAX_HOURS": "-1"}, "SESSION_MAX_HOURS='-1' is not a number of hours"),
    "absolute lifetime not a number": ({"SESSION_MAX_HOURS": "twelve"}, "SESSION_MAX_HOURS='twelve' is not a number"),
    "absolute lifetime infinite": ({"SESSION_MAX_HOURS": "inf"}, "SESSION_MAX_HOURS='inf' is not a number"),
    "absolute lifetime shorter than idle": ({"SESSION_MAX_HOURS": "0.1"}, "SESSION_MAX_HOURS=0.1 ends every session "
                                                                          "before the idle timeout"),
    "idle timeout past 30 minutes": ({"SESSION_IDLE_MINUTES": "60"}, "SESSION_IDLE_MINUTES='60' is not a whole number "
                                                                     "of minutes from 1 to 30"),
    "idle timeout zero": ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES='0' is not a whole number"),
    "idle timeout not whole": ({"SESSION_IDLE_MINUTES": "7.5"}, "SESSION_IDLE_MINUTES='7.5' is not a whole number"),
    "two-factor role misspelt": ({"TWO_FACTOR_REQUIRED_ROLES": "admin,doctr"},
                                 "TWO_FACTOR_REQUIRED_ROLES names 'doctr', which is not a staff role"),
    "two-factor role of partners": ({"TWO_FACTOR_REQUIRED_ROLES": "admin,partner_admin"},
                                    "TWO_FACTOR_REQUIRED_ROLES names 'partner_admin', a partner role"),
}


@pytest.mark.parametrize("changes, expected", REFUSALS.values(), ids=REFUSALS.keys())
def test_check_config_refuses_each_unsafe_setting(changes, expected):
    result = check(production_env(**changes))
    assert result.exit_code == 1
    assert "refuses to start in the production profile: 1 problem(s)" in result.output
    assert expected in result.output


@pytest.mark.parametrize("changes, expected", REFUSALS.values(), ids=REFUSALS.keys())
def test_the_app_refuses_to_start_with_each_unsafe_setting(changes, expected, tmp_path):
    env = {k: v for k, v in production_env(**changes, INSTANCE_PATH=str(tmp_path)).items() if v is not None}
    with pytest.raises(UnsafeConfiguration) as refused:
        load_settings(env)
    assert expected in str(refused.value) and len(refused.value.problems) == 1
    assert list(tmp_path.iterdir()) == []  # no secrets file written, no Redis started


def test_one_message_lists_every_problem_with_its_fix(tmp_path):
    with pytest.raises(UnsafeConfiguration) as refused:
        load_settings({"PORTAL_ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    message = str(refused.value)
    assert "13 problem(s)" in message and len(refused.value.problems) == 13
    for name in ("SECRET_KEY", "DATA_KEYS", "BLIND_INDEX_KEY", "REFERRAL_WEBHOOK_SECRET", "API_TOKEN_KEY",
                 "BOOKING_CLIENT_SECRET", "METRICS_TOKEN", "REDIS_URL", "PORTAL_URL", "SMTP_HOST", "MAIL_FROM",
                 "SMS_GATEWAY_URL", "SMS_API_KEY"):
        assert f"{name}" in message
    assert "Make one with: python3 -c" in message and "flask --app wsgi check-config" in message
    assert not (tmp_path / "secrets.json").exists()


def test_a_database_other_than_sqlite_means_production_unless_told_otherwise():
    postgres = "postgresql+psycopg://portal:pw@db.internal/portal"
    assert profile({"DATABASE_URL": postgres}) == "production"
    assert profile({"DATABASE_URL": postgres, "PORTAL_ENV": "development"}) == "development"
    assert profile({"DATABASE_URL": "sqlite:////srv/portal.db"}) == "development"
    assert profile({}) == "development"
    assert profile({"PORTAL_ENV": "production"}) == "production"
    result = check({**{k: None for k in GOOD}, "DATABASE_URL": postgres})
    assert result.exit_code == 1 and "13 problem(s)" in result.output


def test_production_cookies_are_secure_by_default_and_settings_come_from_the_environment(tmp_path):
    env = {k: v for k, v in production_env(INSTANCE_PATH=str(tmp_path)).items() if v is not None}
    settings = load_settings(env)
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["PORTAL_ENV"] == "production"
    assert settings["SECRET_KEY"] == GOOD["SECRET_KEY"] and settings["REDIS_URL"] == GOOD["REDIS_URL"]
    assert settings["SMTP_SECURITY"] == "starttls" and settings["SMTP_USERNAME"] == "portal"
    assert list(tmp_path.iterdir()) == []


def test_development_check_says_so_and_can_be_asked_to_check_production():
    relaxed = check({**{k: None for k in GOOD}, "PORTAL_ENV": "development"})
    assert relaxed.exit_code == 0 and "profile: development" in relaxed.output
    strict = CliRunner().invoke(check_config_command, ["--production"],
                                env={**{k: None for k in GOOD}, "PORTAL_ENV": "development"})
    assert strict.exit_code == 1 and "13 problem(s)" in strict.output


@pytest.mark.parametrize("provider", [
    {"SMS_PROVIDER": "notify", "NOTIFY_API_KEY": NOTIFY_KEY, "NOTIFY_SMS_TEMPLATE_ID": TEMPLATE},
    {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t",
     "TWILIO_MESSAGING_SERVICE_SID": "MG" + "1" * 32},
], ids=["notify", "twilio"])
def test_each_sms_provider_needs_only_its_own_settings(provider):
    result = check(production_env(SMS_GATEWAY_URL=None, SMS_API_KEY=None, **provider))
    assert result.exit_code == 0, result.output


def test_a_malformed_number_is_a_problem_too():
    result = check(production_env(SMTP_PORT="five-eight-seven"))
    assert result.exit_code == 1 and "a setting cannot be read" in result.output


def _bad_host_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in GOOD and k != "INSTANCE_PATH"}
    env.update({k: v for k, v in production_env(SECRET_KEY=None, REDIS_URL=None).items() if v is not None})
    env["INSTANCE_PATH"] = str(tmp_path)
    return env


def test_flask_check_config_and_every_command_refuse_on_a_bad_host(tmp_path):
    """check-config runs although the app cannot load; an app command prints the list, no traceback."""
    env = _bad_host_env(tmp_path)
    checked = subprocess.run([BIN / "flask", "--app", "wsgi", "check-config"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 1
    assert "2 problem(s)" in checked.stderr and "SECRET_KEY is not set" in checked.stderr
    worker = subprocess.run([BIN / "flask", "--app", "wsgi", "worker", "--burst"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode != 0
    assert "REDIS_URL is not set" in worker.stderr and "Traceback" not in worker.stderr
    assert list(tmp_path.iterdir()) == []


def test_gunicorn_refuses_to_start_on_a_bad_host(tmp_path):
    env = dict(_bad_host_env(tmp_path), GUNICORN_BIND="127.0.0.1:0", GUNICORN_WORKERS="1")
    started = subprocess.run([BIN / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 1
    assert "refuses to start in the production profile: 2 problem(s)" in started.stderr
    assert not (tmp_path / "secrets.json").exists()


def test_the_example_environment_file_names_every_setting_production_needs():
    """deploy/portal.env.example, with its <placeholders> filled in, passes check-config."""
    import re

    whole = {"DATA_KEYS": f"k1:{KEY}", "NOTIFY_API_KEY": NOTIFY_KEY, "NOTIFY_SMS_TEMPLATE_ID": TEMPLATE}
    env = {k: None for k in GOOD}
    for line in (ROOT / "deploy" / "portal.env.example").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        env[name] = whole.get(name) or re.sub(r"<[^<>]*>", "x", value)
    result = check(env)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("changes", [
    {"SESSION_MAX_HOURS": "12", "SESSION_IDLE_MINUTES": "30"},
    {"SESSION_MAX_HOURS": "0.25", "SESSION_IDLE_MINUTES": "15"},  # exactly the idle timeout
    {"SESSION_MAX_HOURS": "8", "SESSION_IDLE_MINUTES": "1"},
    {"TWO_FACTOR_REQUIRED_ROLES": " admin , doctor,reporting,secretary "},
    {"TWO_FACTOR_REQUIRED_ROLES": ""},  # nobody must: the clinic's choice, not an unsafe setting
], ids=["longest allowed", "lifetime equal to idle", "short idle", "every staff role, spaced", "none"])
def test_session_lifetimes_within_asvs_and_known_roles_pass(changes):
    result = check(production_env(**changes))
    assert result.exit_code == 0, result.output


def test_the_development_profile_still_takes_seconds_of_lifetime_for_tests(tmp_path):
    settings = load_settings({"PORTAL_ENV": "development", "INSTANCE_PATH": str(tmp_path),
                              "REDIS_URL": "redis://127.0.0.1:1/0", "SESSION_MAX_HOURS": "0.003"})
    assert settings["SESSION_MAX_HOURS"] == 0.003


@pytest.mark.parametrize("env, zone", [
    ({"PORTAL_REGION": "GB"}, "Europe/London"),
    ({"PORTAL_REGION": "US"}, "America/New_York"),
    ({"PORTAL_REGION": "NO"}, "Europe/Oslo"),
    ({"PORTAL_REGION": "GB", "PORTAL_TIME_ZONE": "Europe/Oslo"}, "Europe/Oslo"),
    ({"PORTAL_REGION": "GB", "CLINIC_TIME_ZONE": "Europe/Oslo"}, "Europe/Oslo"),
])
def test_the_clinics_days_are_the_installs_zone_unless_set_apart(tmp_path, env, zone):
    settings = load_settings({"PORTAL_ENV": "development", "INSTANCE_PATH": str(tmp_path),
                              "REDIS_URL": "redis://127.0.0.1:1/0", **env})
    assert settings["CLINIC_TIME_ZONE"] == zone
