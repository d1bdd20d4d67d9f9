"""What every benchmark shares: gunicorn on a free loopback port, wrk with one Lua reporter, and
the CPU bookkeeping that turns a noisy shared machine into a stable figure (server CPU per request).

    from harness import Gunicorn, run_wrk

    with Gunicorn(env, workers=2, threads=4, log_path=instance / "gunicorn.log") as server:
        figures = run_wrk(f"{server.url}/consultations", connections=4, seconds=10,
                          headers={"Cookie": cookie})

gunicorn runs from the project folder, so it reads gunicorn.conf.py (the production settings) and
the benchmark overrides only what it names (workers, threads, worker class). Its output goes to a
log file in the benchmark's instance folder, not into the figures.
"""

import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

os.environ.setdefault("PORTAL_ENV", "development")  # generated secrets, embedded Redis: also on PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONF_THREADS = 2  # gunicorn.conf.py's default when GUNICORN_THREADS is not set

# Counts the expected status (200 unless wrk's first script argument names another) and everything else per
# wrk thread and prints one JSON line with the figures at the end.
WRK_LUA = r"""
local threads = {}
function setup(thread) thread:set("slot", #threads); table.insert(threads, thread) end
function init(args)
  ok = 0; other = 0; codes = ""; wrapped = 0
  success = tonumber(args[1]) or 200
  if load_pool then load_pool(args[2] .. "." .. slot) end
end
function response(status, headers, body)
  if status == success then ok = ok + 1 else
    other = other + 1
    if other <= 3 then codes = codes .. status .. " " end
  end
end
function done(summary, latency, requests)
  local o, b, c, w = 0, 0, "", 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); b = b + t:get("other"); c = c .. t:get("codes"); w = w + t:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"ok":%d,"other":%d,"other_codes":"%s",' ..
    '"socket_errors":%d,"wrapped":%d,"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, o, b, c, e.connect + e.read + e.write + e.timeout, w,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max))
end
"""

# Added to WRK_LUA for run_wrk_pool: each wrk thread sends its own file of raw requests (separated by NUL),
# one after the other, and counts how often it had to start its file again.
WRK_POOL_LUA = r"""
function load_pool(path)
  local f = assert(io.open(path, "rb")); local data = f:read("*a"); f:close()
  pool = {}; nxt = 0
  local pos = 1
  while true do
    local stop = string.find(data, "\0", pos, true)
    if not stop then break end
    pool[#pool + 1] = string.sub(data, pos, stop - 1); pos = stop + 1
  end
  assert(#pool > 0, "no requests in " .. path .. ": give run_wrk_pool at least one per wrk thread")
end
function request()
  nxt = nxt + 1
  if nxt > #pool then nxt = 1; wrapped = wrapped + 1 end
  return pool[nxt]
end
"""


def csrf_field(html: str) -> str:
    """The value of the page's hidden csrf_token field (the sign-in form's)."""
    return html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def fresh_schema(app) -> None:
    """Migrates the app's database from nothing, inside its app context: on PostgreSQL the public schema is
    dropped first (benchmarks take an EMPTY database of yours), on SQLite the file is new anyway."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from portal.extensions import db

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- gunicorn


class Gunicorn:
    """gunicorn serving wsgi:app in its own process group; `with` starts it and stops the whole group."""

    def __init__(self, env: dict, *, workers: int, threads: int | None = None, worker_class: str | None = None,
                 log_path: Path | None = None, port: int | None = None, config: Path | None = None,
                 root: Path | None = None):
        self.env, self.workers, self.threads, self.worker_class = env, workers, threads, worker_class
        self.config = config  # another settings file than gunicorn.conf.py (bench/cost_conf.py)
        self.root = root or ROOT  # the checkout whose wsgi:app is served (another one: bench/request_cost.py --compare)
        self.log_path = log_path or Path(tempfile.mkdtemp(prefix="care-portal-bench-")) / "gunicorn.log"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def describe(self) -> str:
        kind = self.worker_class or "gthread (gunicorn.conf.py)"
        threads = self.threads or f"{self.env.get('GUNICORN_THREADS', CONF_THREADS)} (gunicorn.conf.py)"
        return f"gunicorn {self.workers} workers x {threads} threads, {kind}"

    def start(self) -> "Gunicorn":
        cmd = [str(BIN / "gunicorn"), "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
               "--log-level", "warning"]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        if self.worker_class:
            cmd += ["--worker-class", self.worker_class]
        if self.config:
            cmd += ["--config", str(self.config)]
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(cmd + ["wsgi:app"], cwd=self.root, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not come up; see {self.log_path}:\n"
                                   f"{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        # Every worker must be booted, not just the first one answering.
        while len(worker_pids(self.process.pid)) < self.workers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return server_cpu_seconds(self.process.pid)

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry))
    return pids


def server_cpu_seconds(master: int) -> float:
    """User+system CPU of the gunicorn master and its workers so far, including workers that have
    exited (recycled after max_requests): the master reaped them, so their CPU is in its cutime/cstime."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [master, *worker_pids(master)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if pid == master:
            total += int(fields[13]) + int(fields[14])
    return total / tick


def process_cpu_seconds(pid: int) -> float:
    """CPU time of another process, all its threads, to the nanosecond and up to date even while it runs
    (its POSIX CPU clock; /proc's counters move in ticks of 4-10 ms)."""
    return time.clock_gettime(((~pid) << 3) | 2)  # clock_getcpuclockid(pid), as glibc computes it


def machine_busy_seconds() -> float:
    """CPU seconds all processes on this machine have spent busy so far (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def child_cpu_seconds() -> float:
    """CPU of this script's finished children (wrk, load-generator processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def with_cpu(server: Gunicorn, measure) -> dict:
    """Run one measurement returning a dict with `ok`; add the CPU the server, the load generator and
    the rest of the machine used meanwhile (in cores kept busy) and the server's CPU ms per request,
    the figure that stays stable when other work shares the machine."""
    cpu0, machine0, load0 = server.cpu_seconds(), machine_busy_seconds(), child_cpu_seconds()
    began = time.perf_counter()
    r = measure()
    wall = time.perf_counter() - began
    server_cpu = server.cpu_seconds() - cpu0
    r["server_cpu"] = server_cpu / wall
    r["loadgen_cpu"] = (child_cpu_seconds() - load0) / wall
    r["other_cpu"] = max(0.0, (machine_busy_seconds() - machine0) / wall - r["server_cpu"] - r["loadgen_cpu"])
    r["server_cpu_ms_per_req"] = server_cpu * 1000 / r["ok"] if r["ok"] else float("nan")
    return r


# --------------------------------------------------------------------------- one client


class Answer:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Browser:
    """One person's client: a keep-alive connection and a cookie jar; answers are not decompressed."""

    def __init__(self, url: str, *, user_agent: str = "care-portal-bench/1", headers: dict | None = None):
        host, _, port = url.removeprefix("http://").partition(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)
        self.cookies: dict[str, str] = {}
        self.headers = {"User-Agent": user_agent, **(headers or {})}

    def get(self, path: str, headers: dict | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, *, form: dict | None = None, body: bytes = b"", headers: dict | None = None) -> Answer:
        from urllib.parse import urlencode

        headers = dict(headers or {})
        if form is not None:
            body = urlencode(form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return self.request("POST", path, headers=headers, body=body)

    def request(self, method: str, path: str, *, headers: dict | None = None, body: bytes | None = None) -> Answer:
        sent = {**self.headers, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed the idle keep-alive connection (gunicorn.conf.py: 5 s) before this request.
            self.connection.close()
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
        answer = Answer(response.status, response.headers, response.read())
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in cookie or "01 Jan 1970" in cookie or "01-Jan-1970" in cookie:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return answer

    def close(self) -> None:
        self.connection.close()


# --------------------------------------------------------------------------- wrk


def run_wrk(url: str, *, connections: int, seconds: float, headers: dict | None = None,
            threads: int | None = None, timeout: str = "10s", success: int = 200) -> dict:
    """wrk against one URL; only status `success` counts as ok. Latencies in ms, rps = ok answers per second."""
    cmd = ["wrk", f"-t{threads or min(4, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
           "--timeout", timeout]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    return _wrk(cmd, WRK_LUA, url, [str(success)])


def run_wrk_pool(url: str, requests: list[bytes], *, connections: int, seconds: float, success: int = 200,
                 threads: int | None = None, timeout: str = "10s") -> dict:
    """wrk sending pre-built raw HTTP/1.1 requests (each its own body and headers: a new signed webhook call,
    say), split between its threads, on keep-alive connections as for run_wrk. `wrapped` counts the times a
    thread ran out of requests and started its share again (then the figures include repeats)."""
    threads = threads or min(4, connections)
    with tempfile.TemporaryDirectory(prefix="wrk-pool-") as folder:
        for slot in range(threads):
            Path(folder, f"pool.{slot}").write_bytes(b"".join(r + b"\0" for r in requests[slot::threads]))
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", timeout]
        return _wrk(cmd, WRK_LUA + WRK_POOL_LUA, url, [str(success), f"{folder}/pool"])


def _wrk(cmd: list[str], lua: str, url: str, script_args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(cmd + ["-s", script.name, url, "--", *script_args],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    raw = json.loads(next(line for line in out.splitlines() if line.startswith("BENCH "))[len("BENCH "):])
    measured = raw["duration_us"] / 1e6
    return {
        "rps": raw["ok"] / measured, "ok": raw["ok"], "other": raw["other"], "requests": raw["requests"],
        "other_codes": raw["other_codes"].strip(), "socket_errors": raw["socket_errors"],
        "errors": raw["other"] + raw["socket_errors"], "seconds": measured, "wrapped": raw["wrapped"],
        **{f"{p}_ms": raw[f"{p}_us"] / 1000 for p in ("p50", "p90", "p95", "p99", "max")},
    }


def wrk_line(r: dict) -> str:
    return (f"{r['requests']} requests ({r['rps']:.0f}/s), {r['errors']} errors; p50 {r['p50_ms']:.1f} ms, "
            f"p90 {r['p90_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
