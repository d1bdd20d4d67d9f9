"""A small production install on loopback, for tests/e2e/test_many_hosts.py.

Debian's `redis-server` (not the embedded one), a PostgreSQL database of its own, the sandbox, two web
hosts (gunicorn with gunicorn.conf.py, each with its own instance folder) and two `flask worker`s, all in
the production profile with every secret from the environment, as a secret store would hand them out.
"""

import base64
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgresql")


def what_is_missing() -> str | None:
    """Why this machine cannot run the set-up on PostgreSQL, or None."""
    if not shutil.which("redis-server"):
        return "needs Debian's redis-server (`make test` installs it as root)"
    return None


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


class Browser:
    """One person's browser behind the load balancer: one cookie jar, and each request goes to the host
    the test names (the hosts share 127.0.0.1, so cookies follow the person from host to host).

    Production cookies are Secure. On loopback the TLS proxy is left out, so the jar keeps every cookie it
    was given as Secure (`secure_cookies`) and sends it over http, as a browser sends it over https."""

    def __init__(self):
        self.session = requests.Session()
        self.secure_cookies: set[str] = set()

    def _took(self, response: requests.Response) -> requests.Response:
        for cookie in self.session.cookies:
            if cookie.secure:
                self.secure_cookies.add(cookie.name)
                cookie.secure = False
        return response

    def at(self, host_url: str) -> "HostView":
        return HostView(self, host_url)


class Answer:
    """A requests response with the Flask test client's names, so the suite's page helpers work on it."""

    def __init__(self, response: requests.Response):
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers

    def get_data(self, as_text: bool = False):
        return self.response.text if as_text else self.response.content

    @property
    def json(self):
        return self.response.json()


class HostView:
    def __init__(self, browser: Browser, host_url: str):
        self.browser, self.host_url = browser, host_url.rstrip("/")

    def _url(self, path: str) -> str:
        if path.startswith("http"):  # a Location header on the public address: same path, this host
            parts = urlsplit(path)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.host_url + path

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        # Never requests' own redirect following: the jar must mark cookies between the hops.
        return self.browser._took(self.browser.session.request(method, self._url(path), allow_redirects=False,
                                                               timeout=30, **kwargs))

    def get(self, path: str, headers=None, follow_redirects: bool = False) -> Answer:
        response = self._send("GET", path, headers=headers)
        for _ in range(10 if follow_redirects else 0):
            if not response.is_redirect:
                break
            response = self._send("GET", response.headers["Location"])
        return Answer(response)

    def post(self, path: str, data=None, headers=None, follow_redirects: bool = False) -> Answer:
        response = self._send("POST", path, data=data, headers=headers)
        return self.get(response.headers["Location"], follow_redirects=True) \
            if follow_redirects and response.is_redirect else Answer(response)


def new_data_key(kid: str) -> str:
    return f"{kid}:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class Cluster:
    """Starts, restarts and stops every process; `hosts["A"]`/`["B"]` are the web hosts' URLs."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.phases: list[tuple[str, float]] = [("start", time.monotonic())]
        suite = make_url(os.environ["DATABASE_URL"])
        self.admin_url = suite
        self.database = f"{suite.database}_many_hosts"
        self.database_url = suite.set(database=self.database).render_as_string(hide_password=False)
        self.redis_port, self.sandbox_port, self.smtp_port = free_port(), free_port(), free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.ports = {"A": free_port(), "B": free_port()}
        self.hosts = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        service, secret = uuid.uuid4(), uuid.uuid4()
        # What a secret store hands every host alike.
        self.secrets = {
            "SECRET_KEY": secrets.token_urlsafe(48), "DATA_KEYS": new_data_key("k1"),
            "BLIND_INDEX_KEY": secrets.token_urlsafe(32), "REFERRAL_WEBHOOK_SECRET": secrets.token_urlsafe(32),
            "API_TOKEN_KEY": secrets.token_urlsafe(48), "BOOKING_CLIENT_SECRET": secrets.token_urlsafe(32),
            "METRICS_TOKEN": secrets.token_urlsafe(32),
            "NOTIFY_API_KEY": f"care_portal_many_hosts-{service}-{secret}",
            "NOTIFY_SMS_TEMPLATE_ID": str(uuid.uuid4()),
        }

    # --- environment ---------------------------------------------------------------------------------
    def _base_env(self) -> dict:
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
        return {k: v for k, v in os.environ.items() if k in keep}

    def host_env(self, host: str, **overrides) -> dict:
        """One production host: its own instance folder, everything else shared."""
        instance = self.workdir / f"host-{host.lower()}"
        instance.mkdir(exist_ok=True)
        return {**self._base_env(), **self.secrets,
                "PORTAL_ENV": "production", "INSTANCE_PATH": str(instance), "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url, "PORTAL_URL": "https://portal.clinic.test",
                "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp_port),
                "MAIL_FROM": "Clinic <no-reply@clinic.test>",
                "SMS_PROVIDER": "notify", "NOTIFY_BASE_URL": self.sandbox_url,
                "SANDBOX_URL": self.sandbox_url,  # chat keys, video, claims API: the sandbox plays them
                "TRAVEL_CLAIM_DELAY_SECONDS": "1", "LOG_LEVEL": "WARNING",
                "GUNICORN_BIND": f"127.0.0.1:{self.ports[host]}", "GUNICORN_WORKERS": "1",
                **overrides}

    def sandbox_env(self) -> dict:
        # REDIS_URL too: without it the sandbox's settings would start an embedded Redis that outlives it.
        return {**self._base_env(), "PORTAL_ENV": "development", "INSTANCE_PATH": str(self.workdir / "sandbox"),
                "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "PORTAL_URL": self.hosts["A"],
                "LOG_LEVEL": "WARNING",
                "SANDBOX_SMTP_PORT": str(self.smtp_port), **self.secrets}

    # --- processes -----------------------------------------------------------------------------------
    def _start(self, name: str, args: list, env: dict) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        with open(log, "ab") as out:
            process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes[name] = process
        return process

    def stop(self, *names: str) -> None:
        """SIGTERM to all of them at once (gunicorn's and RQ's graceful stop), then wait for each."""
        stopping = [(name, self.processes.pop(name)) for name in names if name in self.processes]
        for _, process in stopping:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process in stopping:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def stop_all(self) -> None:
        """Workers and web hosts first, Redis last (a worker outliving Redis only logs errors)."""
        self.stop(*[name for name in self.processes if name.startswith(("worker", "web"))])
        self.stop(*list(self.processes))

    def flask(self, host: str, *args: str, **overrides) -> subprocess.CompletedProcess:
        done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT,
                              env=self.host_env(host, **overrides), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"flask {' '.join(args)} on {host}:\n{done.stdout}\n{done.stderr}"
        return done

    def start_redis(self) -> None:
        folder = self.workdir / "redis"
        folder.mkdir()
        self._start("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                              "--dir", str(folder), "--appendonly", "yes", "--save", ""], self._base_env())
        import redis

        wait_until(lambda: self._redis_pings(redis), 20, "redis-server")

    def _redis_pings(self, redis) -> bool:
        try:
            return redis.Redis.from_url(self.redis_url).ping()
        except redis.RedisError:
            return False

    def create_database(self) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{self.database}"'))
        engine.dispose()

    def drop_database(self) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        engine.dispose()

    def start_sandbox(self) -> None:
        self._start("sandbox", [str(BIN / "flask"), "--app", "portal.sandbox", "run", "--host", "127.0.0.1",
                                "--port", str(self.sandbox_port)], self.sandbox_env())

    def wait_for_sandbox(self) -> None:
        wait_until(lambda: answers(f"{self.sandbox_url}/healthz"), 60, "the sandbox")

    def start_web(self, *hosts: str, **overrides) -> None:
        for host in hosts:
            self._start(f"web-{host}", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                        self.host_env(host, **overrides))
        for host in hosts:
            wait_until(lambda host=host: answers(f"{self.hosts[host]}/healthz"), 60, f"web host {host}")

    def start_worker(self, host: str, queues: str, **overrides) -> None:
        self._start(f"worker-{host}", [str(BIN / "flask"), "--app", "wsgi", "worker", "--queues", queues],
                    self.host_env(host, **overrides))

    def restart(self, *names: str, **overrides) -> None:
        """Restart processes with changed settings (new DATA_KEYS), as a deployment would."""
        self.stop(*names)
        for name in names:
            if name.startswith("worker-"):
                self.start_worker(name[-1], self.queues[name[-1]], **overrides)
        self.start_web(*[name[-1] for name in names if name.startswith("web-")], **overrides)

    queues = {"A": "notifications,default,reports", "B": "claims,notifications"}

    def mark(self, phase: str) -> None:
        """The end of a phase of the run, for the timings printed at the end."""
        self.phases.append((phase, time.monotonic()))

    def timings(self) -> str:
        return ", ".join(f"{name} {end - start:.1f} s"
                         for (_, start), (name, end) in zip(self.phases, self.phases[1:]))

    # --- what the hosts did --------------------------------------------------------------------------
    def sql(self, statement: str, **params):
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(statement), params).all()
        finally:
            engine.dispose()

    def outbox(self) -> dict:
        return requests.get(f"{self.sandbox_url}/outbox.json", timeout=10).json()

    def sms_to(self, phone: str, containing: str) -> list[str]:
        return [m["text"] for m in self.outbox()["sms"] if m["to"] == phone and containing in m["text"]]

    def tail(self) -> str:
        return "\n".join(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-30:])
                         for name, path in self.logs.items() if path.exists())


def link_path(text_with_link: str, prefix: str) -> str:
    """The path of the first https://portal.clinic.test/<prefix>/… link in a message."""
    return re.search(rf"https://portal\.clinic\.test({prefix}/[A-Za-z0-9_-]+)", text_with_link).group(1)
